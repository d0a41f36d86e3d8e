"""Offline-first lookups: imports never wait for the network. Each imported model is marked
pending_online_lookup; this worker asks the identification providers (CivitAI, the Hub, in the
configured order) afterwards, up to 100 models a round, merges their answers (identify/merge.py)
and writes the result through the library writer, on a fresh read of metadata.json. A lookup that
a provider could not answer counts an attempt and is retried later, with a backoff per model."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import MetadataError
from ..index.writer import LibraryWriter
from ..library.metadata import ModelMetadata
from .apply import LookupOutcome, apply_answers, outcome_of
from .provider import Answer, LookupFailed, Provider, ProviderMatch
from .view import identification_view

log = logging.getLogger(__name__)
FIRST_RETRY = timedelta(minutes=15)
LAST_RETRY = timedelta(hours=24)
ROUND = 100                   # models per round: one CivitAI batch call


def next_retry(meta: ModelMetadata) -> datetime:
    if not meta.last_lookup_attempt:
        return datetime.min.replace(tzinfo=UTC)
    delay = min(FIRST_RETRY * (2 ** max(meta.lookup_attempts - 1, 0)), LAST_RETRY)
    return datetime.fromisoformat(meta.last_lookup_attempt) + delay


class LookupWorker:
    """Owns one thread that looks queued models up, a round of up to 100 at a time. `previews`
    (identify/previews.py PreviewSaver) saves a proven match's picture beside the model."""

    def __init__(self, providers: Sequence[Provider], writer: LibraryWriter, previews: Any = None,
                 on_preview: Callable[[str], None] | None = None) -> None:
        self.providers, self.writer, self.index, self.previews = list(providers), writer, writer.index, previews
        self.on_preview = on_preview    # a preview was saved: the apps that show previews get it linked
        self.order = [p.name for p in self.providers]
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._round = threading.Lock()          # one round at a time: this thread's or a socket call's
        self._thread = threading.Thread(target=self._run, name="lookups", daemon=True)
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
        while (batch := self._next_round()) and not self._stopping.is_set():
            try:
                self.lookup_many(batch)
            except Exception:  # a bug must not end the lookups; the models stay pending
                log.exception("lookup of %s failed unexpectedly", ", ".join(batch))

    def _next_round(self) -> list[str]:
        """Wait for one queued model, then take what else is queued (up to ROUND); [] to stop."""
        batch: list[str] = []
        item = self._queue.get()
        while item is not None:
            batch.append(item)
            if len(batch) >= ROUND:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            self._queued.difference_update(batch)
        return [] if item is None else batch

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
        return self.lookup_many([model_id])[model_id]

    def lookup_many(self, model_ids: Sequence[str]) -> dict[str, LookupOutcome]:
        """Ask every online provider, in order, about the models a previous one has not proven."""
        online = [p for p in self.providers if not p.offline()]
        outcomes = dict.fromkeys(model_ids, LookupOutcome.SKIPPED)
        if not online:       # chosen, not a failure: no attempt counted, metadata untouched
            return outcomes
        with self._round:
            metas = {m: meta for m in model_ids if (meta := self._read(m)) is not None}
            answers: dict[str, list[Answer]] = {m: [] for m in metas}
            for provider in online:
                ask = [meta for m, meta in metas.items() if not _proven(answers[m])]
                if ask:
                    got = _ask(provider, ask)
                    for meta in ask:
                        answer = got.get(meta.model_id) or LookupFailed(provider.name, "no answer")
                        answers[meta.model_id].append(answer)
            for model_id, given in answers.items():
                outcomes[model_id] = self._record(model_id, given)
        return outcomes

    def _record(self, model_id: str, given: list[Answer]) -> LookupOutcome:
        # Written through the writer on a fresh read: the minutes spent asking the network must
        # not undo what another writer recorded meanwhile.
        updated = self.writer.update(model_id, lambda fresh: apply_answers(fresh, given, self.order))
        outcome = outcome_of(given)
        log.info("lookup of %s: %s (%s)", model_id, outcome, "; ".join(_said(a) for a in given))
        saved = (self.previews.save_for(updated) if updated is not None and outcome is LookupOutcome.MATCHED
                 and self.previews is not None else None)
        if saved is not None and self.on_preview is not None:
            self.on_preview(model_id)
        return outcome

    def report(self, model_id: str) -> dict[str, Any]:
        """What is recorded about a model's identification (for `modelshelf identify` and `show`)."""
        meta = self._read(model_id)
        row = self.index.get(model_id)
        if meta is None or row is None:
            return {"model_id": model_id, "missing": True}
        return identification_view(meta, row.path, self.order)

    def pending(self) -> int:
        return len(self.index.pending_ids())

    def status(self) -> dict[str, Any]:
        """The Hub's state as before (or the first provider's), with every provider's and the pending count."""
        states = {p.name: p.state().as_json() for p in self.providers}
        main = states.get("hub") or next(iter(states.values()), {"state": "off", "calls_in_window": 0,
                                                                  "limit_per_minute": 0, "last_error": None})
        return main | {"pending": self.pending(), "providers": states}

    def stop(self) -> None:
        """Leave queued lookups pending (start-up queues them again) rather than wait for the throttle."""
        self._stopping.set()
        for provider in self.providers:
            provider.stop_waiting()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join()

    def close(self) -> None:
        for provider in self.providers:
            provider.close()
        if self.previews is not None:
            self.previews.close()


def _proven(answers: list[Answer]) -> bool:
    return any(isinstance(a, ProviderMatch) and a.proven for a in answers)


def _ask(provider: Provider, metas: list[ModelMetadata]) -> dict[str, Answer]:
    try:
        return provider.lookup(metas)
    except Exception as e:   # a provider's bug must not lose the other providers' answers
        log.exception("%s lookup failed unexpectedly", provider.name)
        return {m.model_id: LookupFailed(provider.name, f"unexpected error: {e}") for m in metas}


def _said(answer: Answer) -> str:
    if isinstance(answer, ProviderMatch):
        return f"{answer.provider}: {answer.ref} ({answer.method}, {answer.confidence})"
    kind = type(answer).__name__
    reason = getattr(answer, "reason", "")
    return f"{answer.provider}: {kind}{': ' + reason if reason else ''}"
