"""Registrations that wait for an app's server (InvokeAI not running): kept in registry.db's
`pending` table, so they survive a restart, and retried by the daemon's scheduler with a backoff
per install, the way Hub lookups wait for the Hub. Imports never wait: apply returned PENDING at
once, the linker called defer(), and retry() does the rest.

The backoff is per install, not per model: one server is down for all its models, so one failed
attempt puts every model of that install off until the next due time (30 s, doubling to 15 min).
It lives in memory: after a restart the first retry is immediate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .base import Adapter, AppInstall, ApplyStatus, LibraryModel, LinkRecord

log = logging.getLogger(__name__)
FIRST_DELAY = 30.0
MAX_DELAY = 15 * 60.0


class PendingStore(Protocol):
    """The part of links.registry.LinkRegistry this needs (add() also clears the pending row)."""

    def add(self, record: LinkRecord) -> None: ...

    def add_pending(self, install: str, model_id: str, reason: str) -> None: ...

    def pending(self) -> list[tuple[str, str, str]]: ...

    def remove_pending(self, install: str, model_id: str | None = None) -> None: ...


@dataclass(frozen=True)
class RetryReport:
    registered: tuple[str, ...] = ()     # model ids registered in this round
    waiting: int = 0                     # rows still pending (their install is down or not yet due)
    dropped: tuple[str, ...] = ()        # rows given up: the app refused, the model or install is gone


@dataclass
class _Backoff:
    delay: float = 0.0
    due: float = 0.0


@dataclass
class PendingRegistrations:
    """Owned by the daemon's wiring; retry() is the scheduler's hook (one call per tick is fine:
    installs that are not due are skipped without a request)."""

    store: PendingStore
    clock: Callable[[], float] = time.monotonic
    _backoff: dict[str, _Backoff] = field(default_factory=dict)

    def defer(self, install: str, model_id: str, reason: str) -> None:
        """Record a PENDING apply; the install is put off as after a failed attempt."""
        self.store.add_pending(install, model_id, reason)
        self._failed(install)

    def is_due(self, install: str) -> bool:
        """Whether install's server may be asked again now (for a caller that retries by itself)."""
        return self.clock() >= self._backoff.get(install, _Backoff()).due

    def retry(self, resolve: Callable[[str], tuple[Adapter, AppInstall] | None],
              model_for: Callable[[str], LibraryModel | None], force: bool = False) -> RetryReport:
        """Try every pending registration whose install is due (all of them with force).
        resolve(install root) gives the install's adapter (None: the install is no longer
        configured); model_for(model_id) the model (None: deleted meanwhile)."""
        registered: list[str] = []
        dropped: list[str] = []
        down: set[str] = set()
        rows = self.store.pending()
        for install_root, model_id, _reason in rows:
            if install_root in down or not (force or self.is_due(install_root)):
                continue
            found, model = resolve(install_root), model_for(model_id)
            if found is None or model is None:
                self.store.remove_pending(install_root, model_id)
                dropped.append(model_id)
                continue
            outcome = self._apply(found, model)
            if outcome == "pending":
                down.add(install_root)
                self._failed(install_root)
            elif outcome == "done":
                registered.append(model_id)
                self._backoff.pop(install_root, None)
            else:
                self.store.remove_pending(install_root, model_id)
                dropped.append(model_id)
        waiting = len(rows) - len(registered) - len(dropped)
        return RetryReport(tuple(registered), waiting, tuple(dropped))

    def _apply(self, found: tuple[Adapter, AppInstall], model: LibraryModel) -> str:
        adapter, install = found
        placements = adapter.plan(install, model)
        outcome = "done" if placements else "dropped"    # no longer goes to this app (type changed)
        for placement in placements:
            applied = adapter.apply(install, placement)
            if applied.status is ApplyStatus.PENDING:
                log.info("%s (model %s waits)", applied.detail, model.model_id)
                return "pending"
            if applied.record is not None:
                self.store.add(applied.record)
            else:
                log.warning("%s (model %s: not retried)", applied.detail, model.model_id)
                outcome = "dropped"
        return outcome

    def _failed(self, install: str) -> None:
        state = self._backoff.setdefault(install, _Backoff())
        state.delay = min(MAX_DELAY, state.delay * 2 if state.delay else FIRST_DELAY)
        state.due = self.clock() + state.delay
