"""The maintenance actions over an opened Shelf, each returning a frozen report.

The CLI runs them on the library itself when no daemon runs; the daemon's socket methods run them
when it does. Each action that changes links, files or the index holds the library writer's
`exclusive()` for its whole run, so no import commits halfway through it. JSON is made from the
reports only at those two edges (`as_json`).
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .index import ScanReport
from .ingest import settings_from_config
from .links import LinkResult, LinkStatus
from .links.health import FixResult, HealthReport, apply_fixes, check_health
from .links.maintenance import execute_delete, plan_delete, relocate
from .shelf import Shelf
from .verify import ModelCheck, verify_model


class Report(Protocol):
    def as_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SyncReport:
    results: tuple[LinkResult, ...]
    installs: tuple[str, ...]

    @property
    def problems(self) -> tuple[LinkResult, ...]:
        return tuple(r for r in self.results if r.status in (LinkStatus.CLASH, LinkStatus.ERROR))

    def as_json(self) -> dict[str, Any]:
        counts = collections.Counter(r.status.value for r in self.results)
        return {"counts": dict(counts), "problems": [dataclasses.asdict(r) for r in self.problems],
                "installs": list(self.installs)}


@dataclass(frozen=True)
class HealthOutcome:
    report: HealthReport
    fixed: tuple[FixResult, ...] | None = None      # None: no fix was asked for (or a dry run)
    after: HealthReport | None = None

    def as_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "status": self.report.status, "links_checked": self.report.links_checked,
            "installs": list(self.report.installs),
            "findings": [{k: v for k, v in dataclasses.asdict(f).items() if k != "record"}
                         for f in self.report.findings]}
        if self.fixed is not None and self.after is not None:
            result["fixed"] = [{"path": f.finding.path, "done": f.done, "detail": f.detail} for f in self.fixed]
            result["status_after"] = self.after.status
        return result


@dataclass(frozen=True)
class DeleteReport:
    deleted: str
    model_id: str
    links_removed: int

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RelocateOutcome:
    rows_moved: int
    links_recreated: int

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RebuildReport:
    scan: ScanReport
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {"models": len(self.scan.records), "folders": self.scan.folders_seen,
                "warnings": [str(w) for w in self.scan.warnings], "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class CheckpointReport:
    wal_pages: int
    checkpointed: int

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sync(shelf: Shelf, model: str | None = None) -> SyncReport:
    with shelf.writer.exclusive():   # the registry has one writer at a time, like the index
        linker = shelf.linker()
        results = linker.sync_model(shelf.index.resolve(model)) if model else linker.sync_all()
        return SyncReport(tuple(results), tuple(str(i.root) for i in linker.installs()))


def health(shelf: Shelf, fix: bool = False, dry_run: bool = False) -> HealthOutcome:
    with shelf.writer.exclusive():
        linker = shelf.linker()
        report = check_health(shelf.library, shelf.index, shelf.registry, linker.installs())
        if not fix or dry_run:
            return HealthOutcome(report)
        fixed = apply_fixes(report, shelf.library, shelf.registry, linker.adopt)
        after = check_health(shelf.library, shelf.index, shelf.registry, linker.installs())
        return HealthOutcome(report, tuple(fixed), after)


def delete(shelf: Shelf, model: str) -> DeleteReport:
    with shelf.writer.exclusive():
        plan = plan_delete(shelf.index.resolve(model), shelf.library, shelf.registry)
        execute_delete(plan, shelf.registry, shelf.index)
        return DeleteReport(plan.model.path, plan.model.model_id, len(plan.links))


def relocate_drive(shelf: Shelf, old: str, new: str) -> RelocateOutcome:
    with shelf.writer.exclusive():
        done = relocate(old, new, shelf.library, shelf.registry)
        return RelocateOutcome(done.rows_moved, done.links_recreated)


def rebuild(shelf: Shelf) -> RebuildReport:
    started = time.monotonic()
    scan = shelf.writer.rebuild()        # no import commits between the scan and the swap
    return RebuildReport(scan, time.monotonic() - started)


def checkpoint(shelf: Shelf) -> CheckpointReport:
    return CheckpointReport(*shelf.index.checkpoint())


def verify(shelf: Shelf, model: str | None = None) -> Iterator[ModelCheck]:
    """Re-hash models, one check at a time (read-only: no lock, imports go on)."""
    models = [shelf.index.resolve(model)] if model else shelf.index.all()
    settings = settings_from_config(shelf.config.imports)
    for m in models:
        yield verify_model(shelf.library.folder(m.path), m.path, settings)
