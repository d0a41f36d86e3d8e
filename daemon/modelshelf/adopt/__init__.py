"""Adoption: the models already inside app installs brought into the library where they lie,
deduplicated, each app file replaced by a link in one rename, nothing lost at any instant.

Names are imported on first use (PEP 562), as in identify/: every Shelf runs the start-up
recovery, and `modelshelf import` should not pay for the planner, the executor and the apps'
discovery (tomlkit) to learn that no adoption was interrupted."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "AdoptProgress": "action", "adopt": "action", "adopt_in_daemon": "action", "as_import_progress": "action",
    "targets": "action",
    "FileResult": "execute", "Outcome": "execute",
    "AdoptPlan": "plan", "Decision": "plan", "PlannedModel": "plan",
    "recover_adoptions": "recover",
    "AdoptReport": "report", "lines": "report", "to_dict": "report",
    "ScanResult": "scan", "SkipReason": "scan", "scan": "scan",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
