"""Offline-first lookups: imports never wait for the network. Each imported model is marked
pending_online_lookup; this worker asks the Hub afterwards, writes what it learned into
metadata.json (atomically) and re-indexes it. A failed lookup counts an attempt and is retried
later by the scheduler, with a backoff per model."""

from __future__ import annotations

import dataclasses
import enum
import logging
import queue
import threading
from datetime import UTC, datetime, timedelta

from ..errors import HubUnavailableError, MetadataError
from ..index.writer import LibraryWriter
from ..library.metadata import ModelMetadata, utc_now
from .client import HubClient
from .identify import HubMatch, identify

log = logging.getLogger(__name__)
FIRST_RETRY = timedelta(minutes=15)
LAST_RETRY = timedelta(hours=24)


class LookupOutcome(enum.StrEnum):
    MATCHED = "matched"          # proven by SHA-256
    GUESSED = "guessed"          # a name-only match, recorded with its confidence
    NOT_FOUND = "not_found"
    FAILED = "failed"            # the Hub could not be asked: retried later
    SKIPPED = "skipped"


def apply_match(meta: ModelMetadata, match: HubMatch | None) -> ModelMetadata:
    """Record a lookup. Local facts (type, family) are never changed; the official name is only
    taken from a SHA-256-proven match, and only when the file itself gave none."""
    changes: dict = {"pending_online_lookup": False, "lookup_attempts": meta.lookup_attempts + 1,
                     "last_lookup_attempt": utc_now(),
                     "hub": dataclasses.asdict(match) if match else {"method": "none", "matched_at": utc_now()}}
    if match is not None and match.method == "sha256" and not meta.official_name:
        changes["official_name"] = match.official_name
    return meta.replace(**changes)


def record_failure(meta: ModelMetadata) -> ModelMetadata:
    return meta.replace(lookup_attempts=meta.lookup_attempts + 1, last_lookup_attempt=utc_now())


def next_retry(meta: ModelMetadata) -> datetime:
    if not meta.last_lookup_attempt:
        return datetime.min.replace(tzinfo=UTC)
    delay = min(FIRST_RETRY * (2 ** max(meta.lookup_attempts - 1, 0)), LAST_RETRY)
    return datetime.fromisoformat(meta.last_lookup_attempt) + delay


class LookupWorker:
    """Owns one thread that looks models up, one at a time (the throttle is shared anyway)."""

    def __init__(self, client: HubClient, writer: LibraryWriter) -> None:
        self.client, self.writer, self.index = client, writer, writer.index
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="hub-lookups", daemon=True)
        self._stopping = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def submit(self, model_id: str) -> bool:
        with self._lock:
            if model_id in self._queued:
                return False
            self._queued.add(model_id)
        self._queue.put(model_id)
        return True

    def submit_pending(self, force: bool = False) -> int:
        """Queue every pending model whose backoff has passed (all of them with force)."""
        now = datetime.now(UTC)
        count = 0
        for model_id in self.index.pending_ids():
            meta = self._read(model_id)
            if meta is not None and (force or next_retry(meta) <= now) and self.submit(model_id):
                count += 1
        return count

    def _run(self) -> None:
        while (model_id := self._queue.get()) is not None and not self._stopping.is_set():
            with self._lock:
                self._queued.discard(model_id)
            try:
                self.lookup(model_id)
            except Exception:  # a bug must not end the lookups; the model stays pending
                log.exception("lookup of %s failed unexpectedly", model_id)

    def _read(self, model_id: str) -> ModelMetadata | None:
        row = self.index.get(model_id)
        if row is None:
            return None
        try:
            return self.writer.read(row)
        except MetadataError as e:
            log.warning("cannot look up %s: %s", model_id, e)
            return None

    def lookup(self, model_id: str) -> LookupOutcome:
        """Look one model up now and record the result (also used by the CLI without a daemon)."""
        if self.client.settings.offline:   # chosen, not a failure: no attempt counted, metadata untouched
            return LookupOutcome.SKIPPED
        row = self.index.get(model_id)
        meta = self._read(model_id)
        if row is None or meta is None:
            return LookupOutcome.SKIPPED
        try:
            match = identify(meta, self.client)
        except HubUnavailableError as e:
            # Written through the writer on a fresh read: the minutes spent asking the network
            # must not undo what another writer recorded meanwhile.
            updated = self.writer.update(model_id, record_failure)
            log.info("lookup of %s (%s) postponed: %s (attempt %d)", row.path, model_id, e.reason,
                     updated.lookup_attempts if updated else meta.lookup_attempts + 1)
            return LookupOutcome.FAILED
        self.writer.update(model_id, lambda fresh: apply_match(fresh, match))
        outcome = (LookupOutcome.NOT_FOUND if match is None else
                   LookupOutcome.MATCHED if match.method == "sha256" else LookupOutcome.GUESSED)
        log.info("lookup of %s: %s%s", row.path, outcome,
                 f" {match.repo_id} ({match.method}, {match.confidence})" if match else "")
        return outcome

    def pending(self) -> int:
        return len(self.index.pending_ids())

    def stop(self) -> None:
        """Leave queued lookups pending (start-up queues them again) rather than wait for the throttle."""
        self._stopping.set()
        self.client.stop_waiting()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join()
