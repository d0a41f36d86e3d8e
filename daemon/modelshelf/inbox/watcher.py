"""Watches the inboxes: watchdog events, a start-up scan and periodic rescans feed one arrival
tracker per inbox; a poll thread hands ready entries to the caller.

inotify drops events silently on queue overflow and cannot watch past the watch limit, and network
filesystems send no events at all (a PollingObserver is used there): the rescan is what makes
sure nothing is missed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ..config import InboxConfig, Polling
from ..fs.mounts import mount_of
from .arrival import Arrival, ArrivalTracker, EventKind, Incomplete
from .ignore import IgnoreRules
from .in_progress import InProgress
from .inspect import self_check, signature_of

log = logging.getLogger(__name__)

_KINDS: dict[type, EventKind] = {
    FileCreatedEvent: EventKind.CREATED, DirCreatedEvent: EventKind.CREATED,
    FileOpenedEvent: EventKind.OPENED, FileModifiedEvent: EventKind.MODIFIED,
    DirModifiedEvent: EventKind.MODIFIED, FileClosedEvent: EventKind.CLOSED_WRITE,
    FileClosedNoWriteEvent: EventKind.CLOSED_NOWRITE, FileDeletedEvent: EventKind.DELETED,
    DirDeletedEvent: EventKind.DELETED,
}


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: InboxWatcher, tracker: ArrivalTracker) -> None:
        self.watcher, self.tracker = watcher, tracker

    def on_any_event(self, event: FileSystemEvent) -> None:
        now = self.watcher.clock()
        src = Path(os.fsdecode(event.src_path))
        if isinstance(event, (FileMovedEvent, DirMovedEvent)):
            self.watcher.observe(self.tracker, src, EventKind.DELETED, now)
            self.watcher.observe(self.tracker, Path(os.fsdecode(event.dest_path)), EventKind.MOVED_IN, now)
        elif type(event) in _KINDS:
            self.watcher.observe(self.tracker, src, _KINDS[type(event)], now)


class InboxWatcher:
    """Owns the observers, the trackers and the poll thread for every inbox."""

    def __init__(self, inboxes: tuple[Path, ...], settings: InboxConfig,
                 on_arrival: Callable[[Arrival], None], on_incomplete: Callable[[Incomplete], None],
                 clock: Callable[[], float] = time.monotonic, in_progress: InProgress | None = None,
                 poll_interval: float = 0.25) -> None:
        self.inboxes, self.settings, self.clock = inboxes, settings, clock
        self.poll_interval = poll_interval
        self._on_arrival, self._on_incomplete = on_arrival, on_incomplete
        self._lock = threading.Lock()
        ignore = IgnoreRules(settings.ignore)
        self._in_progress = in_progress if in_progress is not None else InProgress()
        self._trackers = {inbox: ArrivalTracker(inbox, quiet_seconds=settings.quiet_seconds,
                                                incomplete_after=settings.incomplete_seconds,
                                                ignore=ignore, handed_out=self._in_progress)
                          for inbox in inboxes}
        self._observers: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll_loop, name="inbox-poll", daemon=True)

    def start(self) -> None:
        for inbox, tracker in self._trackers.items():
            inbox.mkdir(parents=True, exist_ok=True)
            observer = self._observer_for(inbox)
            observer.schedule(_Handler(self, tracker), os.fspath(inbox), recursive=True)
            observer.start()
            self._observers.append(observer)
        self.rescan()  # the start-up scan: files dropped while the daemon was stopped
        self._thread.start()

    def _observer_for(self, inbox: Path):
        mount = mount_of(inbox)
        polling = self.settings.polling is Polling.ALWAYS or (
            self.settings.polling is Polling.AUTO and mount is not None and mount.is_network)
        if polling:
            log.info("watching %s by polling (%s sends no change events)", inbox,
                     mount.fstype if mount else "configured")
            return PollingObserver(timeout=max(1.0, self.settings.quiet_seconds / 2))
        return Observer()

    def observe(self, tracker: ArrivalTracker, path: Path, kind: EventKind, now: float) -> None:
        with self._lock:
            tracker.observe(path, kind, now)

    def rescan(self) -> int:
        """Offer every entry of every inbox to its tracker; returns how many were seen."""
        seen = 0
        now = self.clock()
        for inbox, tracker in self._trackers.items():
            try:
                entries = list(os.scandir(inbox))
            except OSError as e:
                log.error("cannot list inbox %s: %s", inbox, e.strerror)
                continue
            for entry in entries:
                self.observe(tracker, Path(entry.path), EventKind.SCANNED, now)
                seen += 1
        return seen

    def _poll_loop(self) -> None:
        next_rescan = self.clock() + self.settings.rescan_seconds
        while not self._stop.wait(self.poll_interval):
            if self.clock() >= next_rescan:
                self.rescan()
                next_rescan = self.clock() + self.settings.rescan_seconds
            for decision in self.poll_once():
                if isinstance(decision, Arrival):
                    self._on_arrival(decision)
                else:
                    self._on_incomplete(decision)

    def poll_once(self) -> list[Arrival | Incomplete]:
        decisions = []
        for tracker in self._trackers.values():
            ignore = tracker.ignore
            with self._lock:
                decisions += tracker.poll(self.clock(), lambda p, rules=ignore: signature_of(p, rules), self_check)
        return decisions

    def done(self, path: Path, again: bool = False) -> None:
        """An import of path ended; with again, what is there now is offered again (it changed)."""
        tracker = self._trackers.get(path.parent)
        if tracker is None:               # its inbox left the config in a reload meanwhile
            self._in_progress.discard(path)
            return
        with self._lock:
            tracker.done(path, self.clock() if again else None)

    def pending(self) -> int:
        with self._lock:
            return sum(t.pending for t in self._trackers.values())

    def alive(self) -> bool:
        return self._thread.is_alive() and all(o.is_alive() for o in self._observers)

    def stop(self) -> None:
        self._stop.set()
        for observer in self._observers:
            observer.stop()
        for observer in self._observers:
            observer.join()
        if self._thread.is_alive():
            self._thread.join()
        self._observers.clear()
