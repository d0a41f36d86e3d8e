"""The import pipeline: what happens to a job from the moment it is offered to its end.

  offer → in-progress set → drive queue → importer → (imported) link into the apps → queue the
  identification lookup → status board; a failure is reported and the source stays in the inbox
  or goes to failed/ with the reason.

The pipeline holds the set of inbox entries in progress (the arrival trackers mark an entry when
they hand it out and unmark it when its job ends), so the set outlives any watcher: a reload that
replaces the watcher never offers an entry that is queued or importing again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..apps import AppInstall
from ..config import Config, ImportMode
from ..drives import DriveDetector, DriveQueues
from ..errors import ModelshelfError, ShuttingDownError
from ..inbox.failed import changed_under_import, move_to_failed, waits_for_library
from ..inbox.in_progress import InProgress
from ..ingest import ImportJob, ImportOutcome, find_importables
from ..links import Linker, LinkStatus
from ..shelf import Shelf
from .status import StatusBoard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineJob:
    job: ImportJob
    inbox: Path | None      # None: asked for over the socket, not dropped in an inbox


class ImportPipeline:
    """Owns the drive queues and their workers, and the in-progress set."""

    def __init__(self, shelf: Shelf, board: StatusBoard, config: Config, cancel: threading.Event,
                 on_done: Callable[[Path, bool], None], on_imported: Callable[[str, bool], None],
                 wake: Callable[[], None]) -> None:
        self.shelf, self.board, self.cancel = shelf, board, cancel
        self.in_progress = InProgress()
        self.importer = shelf.importer(on_progress=board.progress, cancel=cancel)
        self.queues: DriveQueues[PipelineJob] = DriveQueues(self._run, workers=config.drives.workers)
        self._on_done, self._on_imported, self._wake = on_done, on_imported, wake
        self.linker: Linker = shelf.linker()
        self.configure(config)
        self.installs = self.linker.installs()    # as last discovered: imports do not glob app roots

    def configure(self, config: Config) -> None:
        """Settings from a (re)loaded config: jobs that start from now on use them."""
        self.config = config
        self.linker.reconfigure(config.apps)
        self.drives = DriveDetector(config.drives.ssd, config.drives.hdd)
        self.importer.configure(config.imports)

    # -- offering jobs ----------------------------------------------------------------------
    def submit(self, job: ImportJob, inbox: Path | None) -> str:
        """Queue a job; ShuttingDownError once the pipeline drains (nothing is recorded then)."""
        drives = (self.drives.drive_of(job.source), self.drives.drive_of(self.shelf.library.root))
        self.board.queued(job.job_id, job.source)
        try:
            self.queues.submit(PipelineJob(job, inbox), drives)
        except ShuttingDownError:
            self.board.forget(job.job_id)
            raise
        self._wake()
        return job.job_id

    def submit_paths(self, paths: list[str], mode: ImportMode) -> list[str]:
        return [self.submit(ImportJob(source, mode), None)
                for p in paths for source in (find_importables(Path(p)) or [Path(p)])]

    def busy(self) -> bool:
        return bool(self.queues.snapshot()[1])

    # -- running them -----------------------------------------------------------------------
    def _run(self, item: PipelineJob) -> None:
        job = item.job
        self.board.started(job.job_id)
        self._wake()
        again = False      # offer what is at the source's name again now: it changed under the import
        try:
            result = self.importer.run(job)
        except ModelshelfError as e:
            again = self._failed(item, e)
        except Exception as e:  # a bug: report it, keep the source where it is, keep serving
            log.exception("internal error importing %s", job.source)
            self.board.finished(job.job_id, error=f"internal error ({type(e).__name__}: {e}); the source was "
                                "left in place; please report this")
        else:
            self.board.finished(job.job_id, result)
            if result.outcome is ImportOutcome.IMPORTED:
                waiting = self.link(result.model_id)
                self._on_imported(result.model_id, waiting)   # identification: never holds up an import
            again = result.source_changed            # put back by retire.py: it arrives again
        finally:
            if item.inbox is not None:
                self._on_done(job.source, again)      # the watcher's tracker hands it back
            pending, running = self.queues.snapshot()
            if not pending and len(running) <= 1:
                self.shelf.index.checkpoint()  # the end of a batch
            self._wake()

    def _failed(self, item: PipelineJob, error: ModelshelfError) -> bool:
        """Report a failed import; True if the source stays to be offered again at once."""
        if self.cancel.is_set():  # shutting down: the source stays in the inbox for next time
            log.warning("import of %s stopped by shutdown; it will be retried at start-up", item.job.source)
            self.board.finished(item.job.job_id, error="stopped by shutdown")
            return False
        stays = self._why_it_stays(item, error)
        if stays:
            log.error("%s; %s", error, stays)
            self.board.finished(item.job.job_id, error=f"{error}; {stays}")
            return changed_under_import(error)
        log.error("%s", error)
        if item.inbox is not None and os.path.lexists(item.job.source):
            try:
                where = move_to_failed(item.job.source, item.inbox, error)
                log.info("moved %s to %s", item.job.source, where)
            except OSError as e:
                log.error("could not move %s to failed/: %s", item.job.source, e.strerror)
        self.board.finished(item.job.job_id, error=str(error))  # after the move: what it reports is done
        return False

    def _why_it_stays(self, item: PipelineJob, error: ModelshelfError) -> str | None:
        """Not the file's fault: it stays in the inbox instead of going to failed/."""
        if item.inbox is None:
            return None
        if waits_for_library(error, self.shelf.library.root, self.config.paths.state_dir):
            return (f"it stays in the inbox and is retried at the next rescan (within "
                    f"{self.config.inbox.rescan_seconds:.0f} s, or now with `modelshelf rescan`)")
        if changed_under_import(error) and os.path.lexists(item.job.source):
            return "it stays in the inbox and is imported again once it has settled"
        return None

    def discover_installs(self) -> list[AppInstall]:
        """Look for the configured installs now (the scheduler's tick, a reload); the ones not
        seen before are returned (they get a full sync)."""
        known = {i.root for i in self.installs}
        self.installs = self.linker.installs()
        return [i for i in self.installs if i.root not in known]

    def link(self, model_id: str) -> bool:
        """The incremental sync: this model only, into every install. True if a registration
        through an app's API was queued (the daemon then starts the registration round)."""
        model = self.shelf.index.get(model_id)
        if model is None:
            return False
        with self.shelf.writer.exclusive():   # the registry has one writer at a time, like the index
            results = self.linker.sync_model(model, self.installs, api_later=True)  # API apps: the round
        made = sum(r.status is LinkStatus.CREATED for r in results)
        if made:
            log.info("linked %s into %d places", model.path, made)
        return any(r.status is LinkStatus.PENDING for r in results)

    # -- stopping ---------------------------------------------------------------------------
    def start(self) -> None:
        self.queues.start()

    def stop_taking(self) -> None:
        """Start no more jobs (running ones go on; the board says when they end: an adoption asked
        for over the socket runs beside the queues, on the board too)."""
        self.queues.stop(0)

    def finish(self, timeout: float | None = None) -> None:
        """Wait up to timeout for the workers to end (a job taken just before the stop may still
        be starting); with no timeout, or past it, stop what still runs safely (imports leave
        their sources in place, an adoption stops between files) and wait for that."""
        if timeout is not None and self.queues.stop(timeout):
            return
        self.cancel.set()
        self.queues.join()
