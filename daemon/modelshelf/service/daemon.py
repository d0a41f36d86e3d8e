"""The daemon: wiring and lifecycle. The import pipeline itself is in pipeline.py.

Signal handlers only set flags; the main thread does the work:

  start:  writer lock, recovery, status socket, lookups, pipeline workers, watcher (+ start-up
          scan), scheduler, READY=1
  loop:   STATUS= updates; SIGHUP reloads the configuration (RELOADING=1 … READY=1)
  stop:   STOPPING=1, stop watching, let running imports finish within drain_seconds (a second
          SIGTERM or SIGINT cuts that short), cancel the rest safely (their sources stay in the
          inbox), checkpoint, close, restore the signal handlers.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import Config, ImportMode, load_config
from ..errors import IncompleteDownloadError, ModelshelfError
from ..identify.wiring import build_lookup_worker
from ..identify.worker import LookupWorker
from ..inbox import Arrival, InboxWatcher, Incomplete
from ..inbox.failed import move_to_failed
from ..ingest import ImportJob, recover_retired
from ..shelf import Shelf
from .methods import build_methods
from .notify import Notifier, WatchdogPinger, watchdog_interval
from .pipeline import ImportPipeline
from .reload import plan_reload
from .rpc import RpcServer
from .scheduler import build_scheduler
from .status import State, StatusBoard

log = logging.getLogger(__name__)
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
REGISTRATION_TICK = 30.0    # seconds; each install's own backoff (30 s doubling to 15 min) decides


class Daemon:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.notifier = Notifier()
        self._wake = threading.Event()
        self._signals: list[int] = []
        self.shelf = Shelf(config, writer=True, purpose="daemon")
        self.board = StatusBoard(self.shelf.index.count())
        self.pipeline = ImportPipeline(self.shelf, self.board, config, threading.Event(),
                                       on_done=self._on_done, on_imported=self._on_imported,
                                       wake=self._wake.set)
        self.watcher = self._make_watcher(config)
        self.lookups = self._make_lookups(config)
        self.rpc = RpcServer(config.service.socket, build_methods(self))
        self.scheduler = build_scheduler(self.checkpoint, periodic={
            "hub-lookups": (lambda: self.lookups.submit_pending(), config.hub.retry_minutes * 60),
            "app-installs": (self.sync_new_installs, config.inbox.rescan_seconds),
            "app-registrations": (self.retry_registrations, REGISTRATION_TICK)})
        interval = watchdog_interval()
        self.pinger = WatchdogPinger(self.notifier, interval, self.healthy) if interval else None

    def _make_watcher(self, config: Config) -> InboxWatcher:
        return InboxWatcher(config.paths.inboxes, config.inbox, self._on_arrival, self._on_incomplete,
                            in_progress=self.pipeline.in_progress)

    def _make_lookups(self, config: Config) -> LookupWorker:
        return build_lookup_worker(config, self.shelf.writer, on_preview=self._on_preview)

    # -- what the watcher and the pipeline report -----------------------------------------------
    def _on_arrival(self, arrival: Arrival) -> None:
        log.info("arrived: %s (%d bytes, after %.1f s)", arrival.path, arrival.size, arrival.waited)
        try:
            self.pipeline.submit(ImportJob(arrival.path, ImportMode.MOVE), arrival.inbox)
        except ModelshelfError as e:     # stopping: it stays in the inbox for the next start
            log.info("not importing %s now: %s", arrival.path, e)
            self.watcher.done(arrival.path)

    def _on_incomplete(self, item: Incomplete) -> None:
        log.warning("incomplete: %s stopped growing before it was complete (%s); moved to failed/",
                    item.path, item.reason)
        try:
            move_to_failed(item.path, item.inbox, IncompleteDownloadError(item.path, item.reason))
        except OSError as e:
            log.error("could not move %s to failed/: %s", item.path, e.strerror)
        self.board.last_error = f"{item.path.name}: {item.reason}"
        self.watcher.done(item.path)

    def _on_done(self, path: Path, again: bool) -> None:
        self.watcher.done(path, again)      # the watcher of now: a reload may have replaced it

    def _on_preview(self, model_id: str) -> None:
        self.pipeline.link(model_id)        # the apps that show previews get the new picture linked

    def _on_imported(self, model_id: str, registrations_waiting: bool) -> None:
        if registrations_waiting:           # an API app (InvokeAI): its round now, not in 30 s
            self.scheduler.modify_job("app-registrations", next_run_time=datetime.now(self.scheduler.timezone))
        self.lookups.submit(model_id)

    # -- what the socket methods ask for (service/methods.py's Control) ---------------------------
    def submit_paths(self, paths: list[str], mode: ImportMode) -> list[str]:
        return self.pipeline.submit_paths(paths, mode)

    def rescan(self) -> int:
        return self.watcher.rescan()

    def hub_state(self) -> dict[str, Any]:
        return self.lookups.status()

    def retry_lookups(self) -> int:
        return self.lookups.submit_pending(force=True)

    def identify_now(self, model_ids: list[str]) -> list[dict[str, Any]]:
        """Look these models up now (the worker's round lock keeps it one round at a time)."""
        outcomes = self.lookups.lookup_many(model_ids)
        return [self.lookups.report(m) | {"outcome": str(o)} for m, o in outcomes.items()]

    def sync_new_installs(self) -> int:
        """An app install that appeared since the last look gets every model linked (and the
        pipeline's incremental syncs see the installs as they are now)."""
        new = self.pipeline.discover_installs()
        if new:
            log.info("new app installs: %s; linking the library into them", ", ".join(str(i.root) for i in new))
            with self.shelf.writer.exclusive():
                self.pipeline.linker.sync_all(new, api_later=True)
        return len(new)

    def retry_registrations(self) -> int:
        """Registrations that wait for an app's server (InvokeAI down), tried where due. Not under
        the library writer: an app's install job may take minutes, and imports must not wait on it
        (registry.db has its own lock; a model deleted meanwhile leaves a registration that
        `health` reports and `health --fix` removes)."""
        report = self.pipeline.linker.retry_pending()
        if report.registered:
            log.info("registered %d models with their app now that it answers", len(report.registered))
        return len(report.registered)

    def checkpoint(self) -> tuple[int, int]:
        return self.shelf.index.checkpoint()

    def healthy(self) -> bool:
        return self.pipeline.queues.alive() and self.watcher.alive() and self.rpc.alive()

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (*_STOP_SIGNALS, signal.SIGHUP)}
        try:
            self._start()
            self._loop()
        finally:
            try:
                self._stop()
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
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
        self.pipeline.start()
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
            self.board.set_state(State.IMPORTING if self.pipeline.busy() else State.IDLE)
            line = self.board.status_line()
            if line != last:
                self.notifier.send(STATUS=line)
                last = line

    def _reload(self) -> None:
        self.notifier.send(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
        self.board.set_state(State.RELOADING)
        try:
            self._apply(load_config(self.config.source))
        except ModelshelfError as e:
            log.error("reload refused, keeping the running configuration: %s", e)
        self.board.set_state(State.IDLE)
        self.notifier.send(READY=1, STATUS=self.board.status_line())

    def _apply(self, loaded: Config) -> None:
        """Apply a re-read config: everything but what the daemon is built around (RESTART_KEYS)."""
        change = plan_reload(self.config, loaded)
        if change.need_restart:
            log.warning("%s changed: %s at the next restart", ", ".join(change.need_restart),
                        "it takes effect" if len(change.need_restart) == 1 else "they take effect")
        config = self.config = self.shelf.config = change.config
        self.watcher.stop()             # the in-progress set stays with the pipeline
        self.watcher = self._make_watcher(config)
        self.watcher.start()
        self.pipeline.configure(config)
        if change.touches("hub") or change.touches("civitai") or change.touches("identify"):
            old, self.lookups = self.lookups, self._make_lookups(config)
            old.stop()
            old.close()
            self.lookups.start()
            self.lookups.submit_pending()
        self.scheduler.reschedule_job("hub-lookups", trigger="interval", seconds=config.hub.retry_minutes * 60)
        self.scheduler.reschedule_job("app-installs", trigger="interval", seconds=config.inbox.rescan_seconds)
        if change.touches("apps"):
            self.sync_new_installs()    # a new install is synced in full once; a removed one is dropped
        log.info("configuration reloaded from %s%s", config.source or "defaults",
                 f"; applied {', '.join(change.applied)}" if change.applied else "; nothing changed")

    def _stop(self) -> None:
        self.board.set_state(State.STOPPING)
        self.notifier.send(STOPPING=1, STATUS=self.board.status_line())
        self.watcher.stop()
        self._drain()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.lookups.stop()
        if self.pinger:
            self.pinger.stop()
        try:
            self.checkpoint()
        finally:
            self.rpc.stop()
            self.lookups.close()
            self.shelf.close()
            self.notifier.close()
        log.info("modelshelf daemon stopped")

    def _drain(self) -> None:
        """Let running imports finish within drain_seconds; a second stop signal ends that at once."""
        self.pipeline.stop_taking()
        running, drain = self.board.running(), self.config.service.drain_seconds
        if running:
            log.info("stopping: letting %d running import%s finish (up to %.0f s; stop again to cancel now)",
                     running, "" if running == 1 else "s", drain)
        deadline = time.monotonic() + drain
        # Woken by every job's end; the 0.2 s bound is for a second signal, which a handler cannot
        # safely announce through the board's lock.
        while not self.board.wait_idle(min(0.2, max(0.0, deadline - time.monotonic()))):
            if any(s in _STOP_SIGNALS for s in self._signals):
                log.warning("stopped again: cancelling the running imports now (sources stay in place)")
                break
            if time.monotonic() >= deadline:
                log.warning("imports still running after %.0f s: cancelling them (sources stay in place)", drain)
                break
        else:
            self.pipeline.finish(max(0.0, deadline - time.monotonic()))
            return
        self.pipeline.finish()
