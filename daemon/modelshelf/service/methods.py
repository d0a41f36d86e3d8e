"""The status socket's methods: thin adapters from JSON params to the daemon's parts."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..config import ImportMode
from ..index import rebuild_summary
from .rpc import INVALID_PARAMS, Method, RpcError

if TYPE_CHECKING:
    from .daemon import Daemon


_REQUIRED = object()


def _param(params: dict[str, Any], name: str, kind: type, default: Any = _REQUIRED) -> Any:
    value = params.get(name, default)
    if value is _REQUIRED:
        raise RpcError(INVALID_PARAMS, f"param {name!r} is missing")
    if not isinstance(value, kind):
        raise RpcError(INVALID_PARAMS, f"param {name!r} must be a {kind.__name__}")
    return value


def build_methods(daemon: Daemon) -> dict[str, Method]:
    index = daemon.shelf.index

    def status(params: dict[str, Any]) -> dict[str, Any]:
        hub = daemon.hub.state() | {"pending": daemon.lookups.pending()}
        return daemon.board.snapshot() | {"hub": hub,
            "library": str(daemon.shelf.library.root), "index": str(index.path),
            "inboxes": [str(p) for p in daemon.config.paths.inboxes], "socket": str(daemon.config.service.socket)}

    def jobs(params: dict[str, Any]) -> dict[str, Any]:
        return daemon.board.jobs()

    def models(params: dict[str, Any]) -> list[dict[str, Any]]:
        kind = params.get("type")
        return [dataclasses.asdict(m) for m in index.all(kind if isinstance(kind, str) else None)]

    def model(params: dict[str, Any]) -> dict[str, Any]:
        found = index.resolve(_param(params, "id", str))
        return {"model": dataclasses.asdict(found), "files": [dict(f) for f in index.files(found.model_id)]}

    def checkpoint(params: dict[str, Any]) -> dict[str, int]:
        return daemon.checkpoint()

    def rescan(params: dict[str, Any]) -> dict[str, int]:
        return {"entries_seen": daemon.watcher.rescan()}

    def import_(params: dict[str, Any]) -> dict[str, Any]:
        paths = _param(params, "paths", list)
        mode = _param(params, "mode", str, "copy")
        if mode not in ImportMode.__members__.values():
            raise RpcError(INVALID_PARAMS, "param 'mode' must be 'copy' or 'move'")
        if not paths or not all(isinstance(p, str) for p in paths):
            raise RpcError(INVALID_PARAMS, "param 'paths' must be a list of paths")
        return {"job_ids": daemon.submit_paths(paths, ImportMode(mode))}

    def rebuild(params: dict[str, Any]) -> dict[str, Any]:
        with daemon.importer.exclusive():  # no import commits between the scan and the swap
            summary = rebuild_summary(daemon.shelf.library, index)
        daemon.board.model_count = index.count()
        return summary | {"by": "daemon"}

    def retry_lookups(params: dict[str, Any]) -> dict[str, int]:
        return {"queued": daemon.lookups.submit_pending(force=True)}

    return {"status": status, "jobs": jobs, "models": models, "model": model, "checkpoint": checkpoint,
            "rescan": rescan, "import": import_, "rebuild-index": rebuild, "retry-lookups": retry_lookups}
