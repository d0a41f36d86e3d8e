"""The daemon: wires inbox → arrival → drive queue → importer → index → status, and runs the
lifecycle. Signal handlers only set flags; the main thread does the work:

  start: writer lock, recovery, status socket, workers, watcher (+ start-up scan), READY=1
  loop:  STATUS= updates; SIGHUP reloads the inbox settings (RELOADING=1 … READY=1)
  stop:  STOPPING=1, stop watching, finish running imports within drain_seconds, then cancel
         the rest safely (their sources stay in the inbox), checkpoint, close.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, ImportMode, load_config
from ..drives import DriveDetector, DriveQueues
from ..errors import ModelshelfError
from ..hub import LookupWorker
from ..hub.setup import build_hub_client
from ..inbox import Arrival, IgnoreRules, InboxWatcher, Incomplete, WatchSettings
from ..inbox.failed import changed_under_import, move_to_failed, waits_for_library
from ..ingest import ImportJob, find_importables, recover_retired
from ..shelf import Shelf
from .methods import build_methods
from .notify import Notifier, WatchdogPinger, watchdog_interval
from .rpc import RpcServer
from .scheduler import build_scheduler
from .status import State, StatusBoard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DaemonJob:
    job: ImportJob
    inbox: Path | None      # None: asked for over the socket, not dropped in an inbox


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.notifier = Notifier()
        self.cancel = threading.Event()
        self._wake = threading.Event()
        self._signals: list[int] = []
        self.shelf = Shelf(config, writer=True, purpose="daemon")
        self.board = StatusBoard(self.shelf.index.count())
        self.importer = self.shelf.importer(on_progress=self.board.progress, cancel=self.cancel)
        self.drives = DriveDetector(config.drives.ssd, config.drives.hdd)
        self.queues: DriveQueues[DaemonJob] = DriveQueues(self._run, workers=config.drives.workers)
        self.watcher = self._make_watcher(config)
        self.linker = self.shelf.linker()
        self._known_installs = {str(i.root) for i in self.linker.installs()}
        self.hub = build_hub_client(config)
        self.lookups = LookupWorker(self.hub, self.shelf.library, self.shelf.index)
        self.rpc = RpcServer(config.service.socket, build_methods(self))
        self.scheduler = build_scheduler(self.checkpoint, periodic={
            "hub-lookups": (self.lookups.submit_pending, config.hub.retry_minutes * 60),
            "app-installs": (self.sync_new_installs, config.inbox.rescan_seconds)})
        interval = watchdog_interval()
        self.pinger = WatchdogPinger(self.notifier, interval, self.healthy) if interval else None

    def _make_watcher(self, config: Config) -> InboxWatcher:
        settings = WatchSettings(quiet_seconds=config.inbox.quiet_seconds,
                                 incomplete_seconds=config.inbox.incomplete_seconds,
                                 rescan_seconds=config.inbox.rescan_seconds,
                                 ignore=IgnoreRules(config.inbox.ignore), polling=config.inbox.polling.value)
        return InboxWatcher(config.paths.inboxes, settings, self._on_arrival, self._on_incomplete)

    # -- the pipeline ----------------------------------------------------------------------------
    def _on_arrival(self, arrival: Arrival) -> None:
        log.info("arrived: %s (%d bytes, after %.1f s)", arrival.path, arrival.size, arrival.waited)
        self.submit(ImportJob(arrival.path, ImportMode.MOVE), arrival.inbox)

    def _on_incomplete(self, item: Incomplete) -> None:
        log.warning("incomplete: %s stopped growing before it was complete (%s); moved to failed/",
                    item.path, item.reason)
        try:
            move_to_failed(item.path, item.inbox, f"not importing {item.path.name}: {item.reason}")
        except OSError as e:
            log.error("could not move %s to failed/: %s", item.path, e.strerror)
        self.board.last_error = f"{item.path.name}: {item.reason}"
        self.watcher.done(item.path)

    def submit(self, job: ImportJob, inbox: Path | None) -> str:
        drives = (self.drives.drive_of(job.source), self.drives.drive_of(self.shelf.library.root))
        self.board.queued(job.job_id, job.source)
        self.queues.submit(DaemonJob(job, inbox), drives)
        self._wake.set()
        return job.job_id

    def submit_paths(self, paths: list[str], mode: ImportMode) -> list[str]:
        return [self.submit(ImportJob(source, mode), None)
                for p in paths for source in (find_importables(Path(p)) or [Path(p)])]

    def _run(self, item: DaemonJob) -> None:
        job = item.job
        self.board.started(job.job_id)
        self._wake.set()
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
            if result.outcome == "imported":
                self.link(result.model_id)
                self.lookups.submit(result.model_id)   # after the import: it never waits for the network
            again = result.source_changed            # put back by retire.py: it arrives again
        finally:
            if item.inbox is not None:
                self.watcher.done(job.source, again)
            pending, running = self.queues.snapshot()
            if not pending and len(running) <= 1:
                self.checkpoint()  # the end of a batch
            self._wake.set()

    def _failed(self, item: DaemonJob, error: ModelshelfError) -> bool:
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

    def _why_it_stays(self, item: DaemonJob, error: ModelshelfError) -> str | None:
        """Not the file's fault: it stays in the inbox instead of going to failed/."""
        if item.inbox is None:
            return None
        if waits_for_library(error, self.shelf.library.root, self.config.paths.state_dir):
            return (f"it stays in the inbox and is retried at the next rescan (within "
                    f"{self.config.inbox.rescan_seconds:.0f} s, or now with `modelshelf rescan`)")
        if changed_under_import(error) and os.path.lexists(item.job.source):
            return "it stays in the inbox and is imported again once it has settled"
        return None

    def link(self, model_id: str) -> None:
        """The incremental sync: this model only, into every install."""
        model = self.shelf.index.get(model_id)
        if model is None:
            return
        with self.importer.exclusive():   # the registry has one writer at a time, like the index
            results = self.linker.sync_model(model)
        made = sum(r.status == "created" for r in results)
        if made:
            log.info("linked %s into %d places", model.path, made)

    def sync_new_installs(self) -> int:
        """An app install that appeared since the last look gets every model linked."""
        installs = self.linker.installs()
        new = [i for i in installs if str(i.root) not in self._known_installs]
        self._known_installs = {str(i.root) for i in installs}
        if new:
            log.info("new app installs: %s; linking the library into them", ", ".join(str(i.root) for i in new))
            with self.importer.exclusive():
                self.linker.sync_all(new)
        return len(new)

    def checkpoint(self) -> dict[str, int]:
        pages, moved = self.shelf.index.checkpoint()
        return {"wal_pages": pages, "checkpointed": moved}

    def healthy(self) -> bool:
        return self.queues.alive() and self.watcher.alive() and self.rpc.alive()

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        try:
            self._start()
            self._loop()
        finally:
            self._stop()
        return 0

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signals.append(signum)
        self._wake.set()

    def _start(self) -> None:
        for inbox in self.config.paths.inboxes:
            if inbox.is_dir() and any(counts := recover_retired(inbox)):
                log.info("an interrupted run left imported sources in %s: %d put back to be checked again, "
                         "%d deleted", inbox, *counts)
        self.rpc.start()
        self.lookups.start()
        self.lookups.submit_pending()       # what was still pending when the daemon last stopped
        self.queues.start()
        self.watcher.start()          # includes the start-up scan
        self.scheduler.start()
        if self.pinger:
            self.pinger.start()
        self.board.set_state(State.IDLE)
        self.notifier.send(READY=1, STATUS=self.board.status_line(), MAINPID=os.getpid())
        log.info("modelshelf daemon ready: library %s, %d models, inboxes %s, socket %s",
                 self.shelf.library.root, self.board.model_count,
                 ", ".join(map(str, self.config.paths.inboxes)), self.config.service.socket)

    def _loop(self) -> None:
        last = ""
        while True:
            self._wake.wait(self.config.service.status_interval)
            self._wake.clear()
            while self._signals:
                signum = self._signals.pop(0)
                if signum == signal.SIGHUP:
                    self._reload()
                else:
                    log.info("received %s: stopping", signal.Signals(signum).name)
                    return
            self.board.inbox_waiting = self.watcher.pending()
            self.board.set_state(State.IMPORTING if self.queues.snapshot()[1] else State.IDLE)
            line = self.board.status_line()
            if line != last:
                self.notifier.send(STATUS=line)
                last = line

    def _reload(self) -> None:
        self.notifier.send(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
        self.board.set_state(State.RELOADING)
        try:
            config = load_config(self.config.source)
        except ModelshelfError as e:
            log.error("reload refused, keeping the running configuration: %s", e)
        else:
            if (config.paths.library, config.paths.state_dir, config.service.socket) != (
                    self.config.paths.library, self.config.paths.state_dir, self.config.service.socket):
                log.warning("library, state_dir and socket changes take effect at the next restart")
            self.watcher.stop()
            self.config = config
            self.watcher = self._make_watcher(config)
            self.watcher.start()
            log.info("configuration reloaded from %s", config.source or "defaults")
        self.board.set_state(State.IDLE)
        self.notifier.send(READY=1, STATUS=self.board.status_line())

    def _stop(self) -> None:
        self.board.set_state(State.STOPPING)
        self.notifier.send(STOPPING=1, STATUS=self.board.status_line())
        self.watcher.stop()
        running = len(self.board.jobs()["running"])
        if running:
            log.info("stopping: letting %d running import%s finish (up to %.0f s)", running,
                     "" if running == 1 else "s", self.config.service.drain_seconds)
        if not self.queues.stop(self.config.service.drain_seconds):
            log.warning("imports still running after %.0f s: cancelling them (sources stay in place)",
                        self.config.service.drain_seconds)
            self.cancel.set()
            self.queues.join()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.lookups.stop()
        if self.pinger:
            self.pinger.stop()
        try:
            self.checkpoint()
        finally:
            self.rpc.stop()
            self.hub.cache.close()
            self.shelf.close()
            self.notifier.close()
        log.info("modelshelf daemon stopped")

