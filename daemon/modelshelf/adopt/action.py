"""`modelshelf adopt` as one function over an opened Shelf: the CLI calls it when no daemon
runs, the daemon's socket method when one does."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..apps import AppInstall, AppKind
from ..apps.discover import configured_installs
from ..errors import ModelshelfError
from ..ingest import ImportOutcome, ImportProgress, ImportResult
from ..library import WriterLock
from ..units import human_size
from .applinks import AppLinks
from .execute import Executor
from .faces import Board, OpenedShelf
from .journal import AdoptJournal
from .plan import Planner
from .report import AdoptReport, to_dict
from .scan import Skipped, SkipReason, Target, scan


@dataclass(frozen=True)
class AdoptProgress:
    phase: str            # "hashing" (planning), "copying", "verifying", "linking"
    path: Path
    done_bytes: int
    total_bytes: int


AdoptListener = Callable[[AdoptProgress], None]


class _Meter:
    """Bytes read so far across the run's files, for one progress bar."""

    def __init__(self, listener: AdoptListener | None, total: int) -> None:
        self.listener, self.total, self.done = listener, total, 0
        self._seen: dict[tuple[str, Path], int] = {}

    def __call__(self, phase: str, path: Path, n: int) -> None:
        key = (phase, path)
        self.done += n - self._seen.get(key, 0)
        self._seen[key] = n
        if self.listener is not None:
            self.listener(AdoptProgress(phase, path, self.done, max(self.total, self.done)))


@dataclass(frozen=True)
class Targets:
    folders: tuple[Target, ...]
    skipped: tuple[Skipped, ...]      # installs whose app manages its own files


def _install_of(path: Path, installs: list[AppInstall]) -> AppInstall | None:
    """The configured install holding path (the innermost, when installs nest)."""
    holding = [i for i in installs if path.is_relative_to(i.root)]
    return max(holding, key=lambda i: len(i.root.parts), default=None)


class _Collect:
    """Targets gathered install by install; an install whose app manages its own files is noted once."""

    def __init__(self, links: AppLinks) -> None:
        self.links = links
        self.folders: list[Target] = []
        self.skipped: dict[Path, Skipped] = {}

    def whole(self, install: AppInstall) -> None:
        if self._usable(install):
            self.folders += [Target(install, folder) for folder in self.links.scan_folders(install)]

    def part(self, install: AppInstall, path: Path, leave: frozenset[Path] = frozenset()) -> None:
        if self._usable(install):
            self.folders.append(Target(install, path, leave))

    def _usable(self, install: AppInstall) -> bool:
        why = self.links.not_adoptable(install)
        if why is not None:
            self.skipped.setdefault(install.root, Skipped(install.root, SkipReason.APP_MANAGED, why))
        return why is None


def targets(shelf: OpenedShelf, links: AppLinks, paths: Sequence[str]) -> Targets:
    """What to scan for each PATH, or every configured install's model folders. A PATH outside
    every configured install is an install of its own (`folders` kind, rooted there); configured
    installs inside it are adopted as themselves. Installs whose app manages its own model files
    (InvokeAI, Ollama) are left out with the reason."""
    installs = configured_installs(shelf.config.apps)
    if not paths and not installs:
        raise ModelshelfError("no app installs to adopt from: give a PATH, or configure [[apps]] "
                              "with root = \"~/ComfyUI\" (see config.example.toml)")
    chosen = [_checked(shelf, text) for text in paths]
    collect = _Collect(links)
    for install in installs if not paths else ():
        collect.whole(install)
    for path in chosen:
        install = _install_of(path, installs)
        if install is not None and path == install.root:
            collect.whole(install)
        elif install is not None:
            collect.part(install, path)
        else:
            inside = [i for i in installs if i.root.is_relative_to(path)]
            for i in inside:
                collect.whole(i)
            root = path if path.is_dir() and not path.is_symlink() else path.parent
            collect.part(AppInstall(root, AppKind.FOLDERS), path, frozenset(i.root for i in inside))
    return Targets(tuple(collect.folders), tuple(collect.skipped.values()))


def _checked(shelf: OpenedShelf, text: str) -> Path:
    path = Path(os.path.abspath(text))
    if not os.path.lexists(path):
        raise ModelshelfError(f"cannot adopt from {text}: it does not exist")
    if shelf.library.contains(path):
        raise ModelshelfError(f"cannot adopt from {text}: it is inside the library")
    return path


def adopt(shelf: OpenedShelf, paths: Sequence[str] = (), *, dry_run: bool = False,
          on_progress: AdoptListener | None = None, cancel: threading.Event | None = None) -> AdoptReport:
    """Scan, plan and (unless dry_run) adopt the models under `paths` (default: every configured
    install). Each model's commit and registry entries take the library writer's lock."""
    importer = shelf.importer(cancel=cancel)
    with WriterLock(shelf.config.paths.state_dir / "adopt.lock") as lock:
        if not dry_run:
            lock.acquire("adopt")    # two runs at once would adopt the same files
        links = AppLinks(shelf.library, lambda: shelf.registry)
        where = targets(shelf, links, paths)
        found = scan(where.folders, shelf.library, where.skipped)
        meter = _Meter(on_progress, sum(f.size for f in found.found))
        # O_DIRECT reads: a cold file hashes about twice as fast and the page cache is left alone.
        settings = dataclasses.replace(importer.settings, direct_read=True)
        planner = Planner(shelf.library, shelf.index, settings,
                          lambda path, n, size: meter("hashing", path, n), cancel, AppLinks.check_writable)
        plan = planner.plan(found)
        if dry_run:
            return AdoptReport(True, plan)
        journal = AdoptJournal(shelf.config.paths.state_dir)
        try:
            results = Executor(shelf.library, shelf.index, importer, links, journal, settings, meter,
                               cancel).run(plan)
        finally:
            journal.close()
    return AdoptReport(False, plan, tuple(results))


def as_import_progress(job_id: str, listener: Callable[[ImportProgress], None]) -> AdoptListener:
    """Adoption progress shown where import progress is (the CLI's bar, the daemon's board)."""
    return lambda p: listener(ImportProgress(job_id, p.path, p.phase, p.done_bytes, p.total_bytes))


def adopt_in_daemon(shelf: OpenedShelf, params: dict[str, Any], board: Board,
                    cancel: threading.Event | None = None) -> dict[str, Any]:
    """The socket method: adopt with progress on the daemon's status board (`modelshelf status`).
    Its commits take the library writer's lock one model at a time, so inbox imports go on."""
    paths = params.get("paths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ModelshelfError("adopt: param 'paths' must be a list of paths")
    dry_run = bool(params.get("dry_run", False))
    job_id = f"adopt-{uuid.uuid4().hex[:8]}"
    label = Path(", ".join(paths) or "every app install")
    board.queued(job_id, label)
    board.started(job_id)
    started = time.monotonic()
    try:
        report = adopt(shelf, paths, dry_run=dry_run, on_progress=as_import_progress(job_id, board.progress),
                       cancel=cancel)
    except BaseException as e:
        board.finished(job_id, error=f"adopting from {label}: {e}")
        raise
    # The board knows import results only: the run is shown as one, its summary as the path.
    summary = to_dict(report)
    what = (f"planned: would give back {human_size(report.plan.gives_back)}" if dry_run
            else f"adopted: gave back {human_size(summary['given_back'])}")
    board.finished(job_id, ImportResult(job_id, label, ImportOutcome.IMPORTED, "", what, "adopt", "",
                                        report.freed, "adopt", time.monotonic() - started, False))
    board.model_count = shelf.index.count()     # finished() counted the run as one import
    return summary | {"by": "daemon"}
