"""What an adoption run did (or, dry, would do): facts inside, a dict at the JSON edge, lines
for people."""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..units import human_size
from .execute import FileResult, Outcome
from .plan import AdoptPlan, Decision
from .scan import Skipped


@dataclass(frozen=True)
class AdoptReport:
    dry_run: bool
    plan: AdoptPlan
    results: tuple[FileResult, ...] = ()

    @property
    def freed(self) -> int:
        """Bytes of blocks released: the st_blocks of every inode whose last name became a link."""
        return sum(r.freed for r in self.results)

    @property
    def added(self) -> int:
        """Bytes of blocks written: copies across filesystems and the links' own blocks."""
        return sum(r.added for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return to_dict(self)


def _path(p: Path | str) -> str:
    """Text that prints and encodes anywhere: a name that is not UTF-8 shows as \\xe9 escapes."""
    return os.fsencode(p).decode("utf-8", "backslashreplace")


def _skipped(s: Skipped) -> dict[str, Any]:
    return {"path": _path(s.path), "reason": s.reason.value, "detail": _path(s.detail)}


def to_dict(report: AdoptReport) -> dict[str, Any]:
    plan = report.plan
    out: dict[str, Any] = {
        "dry_run": report.dry_run,
        "plan": [{"path": _path(m.found.source), "install": _path(m.found.install.root),
                  "decision": m.decision.value, "duplicate_of": m.duplicate_of, "size": m.found.size,
                  "gives_back": m.gives_back, "reason": m.reason.value if m.reason else None,
                  "detail": _path(m.detail)}
                 for m in plan.models],
        "skipped": [_skipped(s) for s in plan.skipped],
        "planned_gives_back": plan.gives_back,
    }
    if not report.dry_run:
        counts = collections.Counter(r.outcome.value for r in report.results)
        out |= {"files": [{"path": _path(r.path), "outcome": r.outcome.value, "model_id": r.model_id,
                           "library_file": r.library_file, "kind": r.kind, "freed": r.freed, "added": r.added,
                           "reason": r.reason.value if r.reason else None, "detail": _path(r.detail)}
                          for r in report.results],
                "counts": dict(counts), "freed": report.freed, "added": report.added,
                "given_back": report.freed - report.added}
    return out


def lines(result: dict[str, Any]) -> list[str]:
    """The report as text, from its dict (the daemon sends the dict)."""
    out = [f"skip       {s['path']}: {s['reason']}" + (f" ({s['detail']})" if s["detail"] else "")
           for s in result["skipped"]]
    if result["dry_run"]:
        for m in result["plan"]:
            what = {Decision.NEW: "new", Decision.DUPLICATE: f"duplicate of {m['duplicate_of']}",
                    Decision.SKIP: f"skip: {m['reason']}"}[Decision(m["decision"])]
            gives = f", gives back {human_size(m['gives_back'])}" if m["gives_back"] else ""
            out.append(f"{what:<10} {m['path']} ({human_size(m['size'])}{gives})")
        out.append(f"would adopt {sum(m['decision'] == 'new' for m in result['plan'])} new models, link "
                   f"{sum(m['decision'] == 'duplicate' for m in result['plan'])} duplicates and give back about "
                   f"{human_size(result['planned_gives_back'])}; nothing was changed")
        return out
    for f in result["files"]:
        if f["outcome"] == Outcome.SKIPPED:
            out.append(f"skip       {f['path']}: {f['reason']}" + (f" ({f['detail']})" if f["detail"] else ""))
        else:
            out.append(f"{f['outcome']:<10} {f['path']} -> {f['library_file']} ({f['kind']})")
    c = result["counts"]
    out.append(f"{c.get('adopted', 0)} files adopted, {c.get('linked', 0)} linked to models already in the "
               f"library, {c.get('skipped', 0)} skipped; gave back {human_size(result['given_back'])} on disk "
               f"({human_size(result['freed'])} freed, {human_size(result['added'])} written)")
    return out
