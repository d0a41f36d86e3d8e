"""Human-readable output for the CLI; --json output is built from the same dataclasses."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..index import IndexedFile, IndexedModel
from ..ingest import ImportResult
from ..units import human_size
from ..verify import ModelCheck


def to_json(value: Any) -> str:
    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {k: plain(x) for k, x in dataclasses.asdict(v).items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return str(v) if not isinstance(v, (int, float, bool, str, type(None))) else v
    return json.dumps(plain(value), indent=2, ensure_ascii=False)


def import_line(r: ImportResult) -> str:
    if r.outcome == "duplicate":
        gone = " (source removed)" if r.source_removed else ""
        return f"duplicate  {r.source} is already in the library as {r.path} [{r.model_id}]{gone}"
    speed = r.size_bytes / r.seconds / 1e6 if r.seconds > 0 else 0
    return (f"imported   {r.source} → {r.path} [{r.model_id}] {r.model_type}/{r.family} "
            f"{human_size(r.size_bytes)} by {r.method} in {r.seconds:.1f} s ({speed:.0f} MB/s)")


def model_table(models: list[IndexedModel]) -> str:
    if not models:
        return "no models"
    rows = [(m.model_id, m.model_type, m.family, human_size(m.size_bytes), m.path) for m in models]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d:>{widths[3]}}  {e}"
                     for a, b, c, d, e in rows)


def model_details(m: IndexedModel, files: list[IndexedFile]) -> str:
    lines = [f"{k:<22}{v}" for k, v in dataclasses.asdict(m).items() if v not in (None, (), "")]
    lines.append("files:")
    lines += [f"  {f.name}  {human_size(f.size)}  blake3 {f.blake3}  sha256 {f.sha256}" for f in files]
    return "\n".join(lines)


def rebuild_summary(summary: dict[str, Any]) -> str:
    seconds = summary["seconds"]
    rate = summary["models"] / seconds if seconds > 0 else 0
    by = " (by the daemon)" if summary.get("by") == "daemon" else ""
    return "\n".join([f"warning: {w}" for w in summary["warnings"]] + [
        f"indexed {summary['models']} models from {summary['folders']} folders in {seconds:.2f} s "
        f"({rate:.0f} models/s), {len(summary['warnings'])} warnings{by}"])


def verify_line(check: ModelCheck) -> str:
    if check.ok:
        return f"ok       {check.path}"
    bad = "; ".join(f"{f.name}: {f.state} {f.detail}".strip() for f in check.files if f.state != "ok")
    return f"FAILED   {check.path}: {bad}"


def bar(fraction: float, width: int = 24) -> str:
    filled = int(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


def progress_text(fraction: float, mb_per_s: float, phase: str, name: str) -> str:
    """`[████░░] 41%  612 MB/s copying name`, for a terminal line that is redrawn in place."""
    return f"\r\033[K[{bar(fraction)}] {fraction:4.0%} {mb_per_s:6.0f} MB/s {phase} {name}"


def job_line(job: dict[str, Any]) -> str:
    name = job["source"]
    if job["state"] == "failed":
        return f"failed     {name}: {job['error']}"
    if job["state"] == "duplicate":
        return f"duplicate  {name} is already in the library as {job['path']} [{job['model_id']}]"
    return f"{job['state']:<10} {name} → {job['path']} [{job['model_id']}]"


def status_view(status: dict[str, Any]) -> str:
    lines = [f"modelshelf: {status['status_line']}",
             f"library   {status['library']}  ({status['models']} models)  · daemon memory "
             f"{status.get('rss_mb', 0):.0f} MB",
             f"inboxes   {', '.join(status['inboxes'])}"]
    for j in status["running"]:
        lines.append(f"  [{bar(j['percent'] / 100)}] {j['percent']:5.1f}% {j['mb_per_s']:6.0f} MB/s  "
                     f"{j['phase']:<9} {j['source']}")
    if status["queued"]:
        lines.append(f"queued    {status['queued']}")
    if status["inbox_waiting"]:
        lines.append(f"arriving  {status['inbox_waiting']} (waiting until complete)")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(status["counts"].items()))
    if counts:
        lines.append(f"done      {counts}")
    if status.get("last_error"):
        lines.append(f"last error {status['last_error']}")
    if hub := status.get("hub"):
        for name, state in (hub.get("providers") or {"hub": hub}).items():   # one line per provider
            error = f" · {state['last_error']}" if state["last_error"] else ""
            lines.append(f"{name:<10}{state['state']} · {hub['pending']} pending · {state['calls_in_window']}/"
                         f"{state['limit_per_minute']} calls this minute{error}")
    return "\n".join(lines)


def jobs_view(jobs: dict[str, Any]) -> str:
    lines = [f"running  [{bar(j['percent'] / 100, 16)}] {j['percent']:5.1f}% {j['source']}" for j in jobs["running"]]
    lines += [f"queued   {j['source']}" for j in jobs["queued"]]
    lines += [job_line(j) for j in jobs["recent"][:20]]
    return "\n".join(lines) or "no jobs"


def sync_summary(result: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result["counts"].items())) or "nothing to link"
    lines = [f"{p['status']:<6} {p['install']}/{p['target']}: {p['detail']}" for p in result["problems"]]
    return "\n".join(lines + [f"{counts} across {len(result['installs'])} app installs"])


def health_view(result: dict[str, Any], fixed: bool) -> str:
    lines = [f"{f['problem']:<13} {f['path']}: {f['detail']}" + (f"  → {f['fix']}" if f["fix"] else "")
             for f in result["findings"]]
    lines += [f"{'fixed' if f['done'] else 'FAILED':<13} {f['path']}: {f['detail']}" for f in result.get("fixed", [])]
    after = f", now {result['status_after']}" if fixed else ""
    lines.append(f"{result['status']}{after}: {result['links_checked']} links in {len(result['installs'])} "
                 f"app installs, {len(result['findings'])} findings")
    return "\n".join(lines)


def _provider_line(name: str, state: dict[str, Any]) -> str:
    match = state.get("match")
    status = state["status"] + (f" since {state['gone_since']}" if state.get("gone_since") else "")
    said = ""
    if match:
        version = match.get("record", {}).get("version_name")
        said = (f"  {match['ref']} {match.get('name') or ''}{' ' + version if version else ''} "
                f"({match['method']}, {match['confidence']})")
    why = state.get("last_error") or state.get("note") or ""
    return f"  {name:<8} {status}{said}{'  · ' + why if why else ''}"


def identification_view(ident: dict[str, Any], folder: Any = None) -> str:
    """What `show` adds: hashes people search by, the best match's facts, and who said what."""
    preview = ident.get("preview")
    rows = [("autov2", ident["autov2"]), *((name, value) for name, value in ident.get("header_hashes", {}).items()),
            ("base model", ident.get("base_model")),
            ("trigger words", ", ".join(ident.get("trained_words") or [])),
            ("preview", f"{folder}/{preview}" if preview and folder is not None else preview),
            ("family source", ident.get("family_source"))]
    lines = [f"{k:<22}{v}" for k, v in rows if v]
    providers = ident.get("providers") or {}
    lines.append("identified by:" if providers else "identified by:       (no provider answered yet)")
    lines += [_provider_line(name, state) for name, state in providers.items()]
    return "\n".join(lines)


def identify_result(model: dict[str, Any]) -> str:
    if model.get("missing"):
        return f"{model['model_id']}: no longer in the library"
    head = f"{model['path']} [{model['model_id']}]: {model.get('outcome', '')}"
    return head + "\n" + identification_view(model)


def apps_table(views: list) -> str:
    if not views:
        return "no [[apps]] in the config: run `modelshelf apps discover` to find installs"
    lines = []
    for v in views:
        made = ", ".join(v.methods) or "nothing yet"
        lines.append(f"{v.kind:<9} {v.state:<7} {v.root}\n          link {v.link}; {v.models} models, "
                     f"{v.entries} entries ({made})")
        lines += [f"          ! {p}" for p in v.problems]
    return "\n".join(lines)


def discovered(found: list, home, added: int, config_path) -> str:
    if not found:
        return "no app installs found in the usual places"
    lines = [f"{f.kind.value:<9} {f.root}  ({'configured' if f.configured else f.evidence})" for f in found]
    new = [f for f in found if not f.configured]
    if added:
        lines.append(f"\nadded {added} [[apps]] to {config_path}")
    elif new:
        lines.append(f"\nto link them, add to {config_path} (or run `modelshelf apps discover --add`):\n")
        lines += [f.snippet(home) for f in new]
    return "\n".join(lines)


def plan_lines(plan: list) -> str:
    if not plan:
        return "nothing to place: no configured install has a folder for these models"
    return "\n".join(f"{p.method.value:<8} {p.target or p.install_root} <- {p.source}"
                     + (f" ({p.key})" if p.key else "") for p in plan)
