"""The status socket's methods: thin adapters from JSON params to the daemon's parts."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import psutil

from ..adopt import adopt_in_daemon
from ..config import ImportMode
from ..index import rebuild_summary
from ..links import actions
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


def _counted(daemon: Daemon, result: dict[str, Any]) -> dict[str, Any]:
    daemon.board.model_count = daemon.shelf.index.count()
    return result


def build_methods(daemon: Daemon) -> dict[str, Method]:
    index = daemon.shelf.index

    process = psutil.Process()

    def status(params: dict[str, Any]) -> dict[str, Any]:
        hub = daemon.hub.state() | {"pending": daemon.lookups.pending()}
        return daemon.board.snapshot() | {"hub": hub, "rss_mb": round(process.memory_info().rss / 1e6, 1),
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

    def locked(action):
        def method(params: dict[str, Any]) -> Any:
            with daemon.importer.exclusive():   # no import commits while links or files change
                return action(params)
        return method

    link_methods = {
        "sync": locked(lambda p: actions.sync(daemon.shelf, p.get("model"))),
        "health": locked(lambda p: actions.health(daemon.shelf, bool(p.get("fix")), bool(p.get("dry_run")))),
        "delete": locked(lambda p: _counted(daemon, actions.delete(daemon.shelf, _param(p, "model", str)))),
        "relocate": locked(lambda p: actions.relocate_drive(daemon.shelf, _param(p, "old", str),
                                                            _param(p, "new", str))),
    }
    link_methods["adopt"] = lambda p: _counted(daemon, adopt_in_daemon(daemon.shelf, p, daemon.board, daemon.importer,
                                                                     daemon.cancel))
    return link_methods | {"status": status, "jobs": jobs, "models": models, "model": model, "checkpoint": checkpoint,
            "rescan": rescan, "import": import_, "rebuild-index": rebuild, "retry-lookups": retry_lookups}
