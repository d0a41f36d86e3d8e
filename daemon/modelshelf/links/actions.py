"""The maintenance actions as plain functions over an opened Shelf: the CLI calls them directly
when no daemon runs, the daemon's socket methods call them when it does."""

from __future__ import annotations

import collections
import dataclasses
from typing import TYPE_CHECKING, Any

from .health import apply_fixes, check_health
from .maintenance import execute_delete, plan_delete, relocate

if TYPE_CHECKING:
    from ..shelf import Shelf


def sync(shelf: Shelf, model: str | None = None) -> dict[str, Any]:
    linker = shelf.linker()
    results = linker.sync_model(shelf.index.resolve(model)) if model else linker.sync_all()
    counts = collections.Counter(r.status.value for r in results)
    problems = [dataclasses.asdict(r) for r in results if r.status in ("clash", "error")]
    return {"counts": dict(counts), "problems": problems, "installs": [str(i.root) for i in linker.installs()]}


def health(shelf: Shelf, fix: bool = False, dry_run: bool = False) -> dict[str, Any]:
    linker = shelf.linker()
    report = check_health(shelf.library, shelf.index, shelf.registry, linker.installs())
    result: dict[str, Any] = {"status": report.status, "links_checked": report.links_checked,
                              "installs": list(report.installs),
                              "findings": [{k: v for k, v in dataclasses.asdict(f).items() if k != "record"}
                                           for f in report.findings]}
    if fix and not dry_run:
        fixed = apply_fixes(report, shelf.library, shelf.registry, linker.adopt)
        result["fixed"] = [{"path": f.finding.path, "done": f.done, "detail": f.detail} for f in fixed]
        result["status_after"] = check_health(shelf.library, shelf.index, shelf.registry, linker.installs()).status
    return result


def delete(shelf: Shelf, model: str) -> dict[str, Any]:
    plan = plan_delete(shelf.index.resolve(model), shelf.library, shelf.registry)
    execute_delete(plan, shelf.registry, shelf.index)
    return {"deleted": plan.model.path, "model_id": plan.model.model_id, "links_removed": len(plan.links)}


def relocate_drive(shelf: Shelf, old: str, new: str) -> dict[str, Any]:
    return dataclasses.asdict(relocate(old, new, shelf.library, shelf.registry))
