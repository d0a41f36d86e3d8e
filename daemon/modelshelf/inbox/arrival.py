"""Arrival detection: when has a dropped file or folder fully arrived?

A pure state machine fed with filesystem events and asked, now and then, what is ready. It does
no I/O itself: the caller injects how to stat an entry and how to self-check a model file, so it
is tested with a fake clock and fake stats. An entry is ready when:
  - it was closed after writing, moved in (renamed to its final name), created without an open
    (a same-filesystem `mv` or a hardlink), or found by a scan;
  - no writer still has it open (from the open/close events);
  - its size and mtime (for a folder: of the whole tree) have not changed for the quiet period;
  - it is not empty, and a safetensors/GGUF file is complete by its own header, a diffusers
    folder has every component its model_index.json lists (an incomplete one waits, and is
    reported once it has been still for `incomplete_after`).
Each entry is handed out once, whatever events repeat, until the caller says it is done.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from .ignore import IgnoreRules
from .in_progress import InProgress


class EventKind(enum.StrEnum):
    CREATED = "created"
    OPENED = "opened"
    MODIFIED = "modified"
    CLOSED_WRITE = "closed_write"
    CLOSED_NOWRITE = "closed_nowrite"
    MOVED_IN = "moved_in"
    DELETED = "deleted"
    SCANNED = "scanned"


@dataclass(frozen=True)
class Signature:
    """What changes while something is still being written."""

    size: int
    mtime_ns: int
    files: int = 1
    partial_files: int = 0     # ignored (partial) files inside a folder
    is_folder: bool = False


class CheckResult(enum.Enum):
    OK = "ok"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Arrival:
    """A top-level inbox entry that has fully arrived."""

    path: Path
    inbox: Path
    is_folder: bool
    size: int
    waited: float          # seconds from first sight to ready


@dataclass(frozen=True)
class Incomplete:
    """A model file that stopped growing before its header said it was complete."""

    path: Path
    inbox: Path
    reason: str


StatFn = Callable[[Path], Signature | None]
CheckFn = Callable[[Path], tuple[CheckResult, str]]


@dataclass
class _Candidate:
    first_seen: float
    last_change: float
    signature: Signature | None = None
    completed: bool = False     # closed / moved in / created without open / scanned
    opened: bool = False
    writers: int = 0
    truncated_since: float | None = None


class ArrivalTracker:
    def __init__(self, inbox: Path, *, quiet_seconds: float, incomplete_after: float,
                 ignore: IgnoreRules, handed_out: InProgress | None = None) -> None:
        self.inbox = inbox
        self.quiet = quiet_seconds
        self.incomplete_after = incomplete_after
        self.ignore = ignore
        self._candidates: dict[Path, _Candidate] = {}
        # Shared with the pipeline (and so with the next tracker after a reload).
        self._handed_out = handed_out if handed_out is not None else InProgress()

    def top_level(self, path: Path) -> Path | None:
        """The inbox entry a path belongs to, or None if it is outside or ignored."""
        try:
            rel = PurePath(path).relative_to(self.inbox)
        except ValueError:
            return None
        if not rel.parts or self.ignore.ignored(rel):
            return None
        return self.inbox / rel.parts[0]

    def observe(self, path: Path, kind: EventKind, now: float) -> None:
        top = self.top_level(path)
        if top is None:
            # A partial file inside a dropped folder still means the folder is changing.
            top = self._folder_of_ignored(path)
            if top is None or kind is EventKind.SCANNED:
                return
            kind = EventKind.MODIFIED
        if top in self._handed_out:
            return
        if kind is EventKind.DELETED and path == top:
            self._candidates.pop(top, None)
            return
        c = self._candidates.get(top)
        if c is None:
            c = self._candidates[top] = _Candidate(first_seen=now, last_change=now)
        if kind not in (EventKind.OPENED, EventKind.CLOSED_NOWRITE):  # reads change nothing
            c.last_change = now
        nested = path != top
        if kind is EventKind.OPENED:
            c.opened, c.writers = True, c.writers + 1
        elif kind in (EventKind.CLOSED_WRITE, EventKind.CLOSED_NOWRITE):
            c.writers = max(0, c.writers - 1)
            c.completed = c.completed or kind is EventKind.CLOSED_WRITE or nested
        elif kind in (EventKind.MOVED_IN, EventKind.SCANNED):
            c.completed = True
        elif kind is EventKind.CREATED and not c.opened:
            c.completed = True   # an open may still follow; the quiet period covers that

    def _folder_of_ignored(self, path: Path) -> Path | None:
        try:
            rel = PurePath(path).relative_to(self.inbox)
        except ValueError:
            return None
        if len(rel.parts) < 2 or self.ignore.ignored(PurePath(rel.parts[0])):
            return None
        return self.inbox / rel.parts[0]

    def poll(self, now: float, stat: StatFn, check: CheckFn) -> list[Arrival | Incomplete]:
        """Entries ready to import (or to report as incomplete), each returned once."""
        decisions: list[Arrival | Incomplete] = []
        for top, c in list(self._candidates.items()):
            sig = stat(top)
            if sig is None:
                del self._candidates[top]
                continue
            if sig != c.signature:
                c.signature, c.last_change = sig, now
                continue
            if not c.completed or now - c.last_change < self.quiet or sig.size == 0 or sig.partial_files:
                continue
            if c.writers and now - c.last_change < self.quiet * 10:
                continue  # still open for writing (the count is trusted until events look lost)
            decision = self._decide(top, c, sig, now, check)
            if decision is not None:
                decisions.append(decision)
                del self._candidates[top]
                self._handed_out.add(top)
        return decisions

    def _decide(self, top: Path, c: _Candidate, sig: Signature, now: float,
                check: CheckFn) -> Arrival | Incomplete | None:
        result, reason = check(top)
        if result is CheckResult.TRUNCATED:
            c.truncated_since = c.truncated_since or now
            if now - c.truncated_since < self.incomplete_after:
                return None
            return Incomplete(top, self.inbox, reason)
        return Arrival(top, self.inbox, sig.is_folder, sig.size, now - c.first_seen)

    def done(self, path: Path, again_at: float | None = None) -> None:
        """The import of path finished (either way): a new file there is a new arrival. With
        again_at, what is there now (it changed under the import) arrives again once quiet."""
        self._handed_out.discard(path)
        if again_at is not None:
            self.observe(path, EventKind.SCANNED, again_at)

    @property
    def pending(self) -> int:
        return len(self._candidates)
