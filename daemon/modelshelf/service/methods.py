"""The status socket's methods: thin adapters from JSON params to the daemon's parts.

They depend on `Control`, the narrow face of the daemon they need, not on the daemon itself."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from .. import actions
from ..actions import Report
from ..adopt import adopt_in_daemon
from ..config import Config, ImportMode
from ..shelf import Shelf
from .rpc import INVALID_PARAMS, Method, RpcError
from .status import StatusBoard


class Stoppable(Protocol):
    cancel: threading.Event       # set when the daemon's stop cancels running work


class Control(Protocol):
    """What the socket may see and ask of the running daemon."""

    config: Config
    shelf: Shelf
    board: StatusBoard
    pipeline: Stoppable           # its cancel event also stops a running adoption between files

    def submit_paths(self, paths: list[str], mode: ImportMode) -> list[str]: ...
    def rescan(self) -> int: ...
    def hub_state(self) -> dict[str, Any]: ...
    def retry_lookups(self) -> int: ...
    def identify_now(self, model_ids: list[str]) -> list[dict[str, Any]]: ...


_REQUIRED = object()


def _param(params: dict[str, Any], name: str, kind: type, default: Any = _REQUIRED) -> Any:
    value = params.get(name, default)
    if value is _REQUIRED:
        raise RpcError(INVALID_PARAMS, f"param {name!r} is missing")
    if not isinstance(value, kind):
        raise RpcError(INVALID_PARAMS, f"param {name!r} must be a {kind.__name__}")
    return value


def build_methods(daemon: Control) -> dict[str, Method]:
    index = daemon.shelf.index
    process = psutil.Process()

    def status(params: dict[str, Any]) -> dict[str, Any]:
        return daemon.board.snapshot() | {
            "hub": daemon.hub_state(), "rss_mb": round(process.memory_info().rss / 1e6, 1),
            "library": str(daemon.shelf.library.root), "index": str(index.path),
            "inboxes": [str(p) for p in daemon.config.paths.inboxes], "socket": str(daemon.config.service.socket)}

    def models(params: dict[str, Any]) -> list[dict[str, Any]]:
        kind = params.get("type")
        return [dataclasses.asdict(m) for m in index.all(kind if isinstance(kind, str) else None)]

    def model(params: dict[str, Any]) -> dict[str, Any]:
        found = index.resolve(_param(params, "id", str))
        files = [dataclasses.asdict(f) for f in index.files(found.model_id)]
        return {"model": dataclasses.asdict(found), "files": files}

    def identify(params: dict[str, Any]) -> dict[str, Any]:
        queries = _param(params, "models", list, [])
        if not all(isinstance(q, str) for q in queries):
            raise RpcError(INVALID_PARAMS, "param 'models' must be a list of ids, names or hashes")
        from ..identify.wiring import chosen_models
        return {"models": daemon.identify_now(chosen_models(index, queries, bool(params.get("all"))))}

    def import_(params: dict[str, Any]) -> dict[str, Any]:
        paths = _param(params, "paths", list)
        mode = _param(params, "mode", str, "copy")
        if mode not in ImportMode.__members__.values():
            raise RpcError(INVALID_PARAMS, "param 'mode' must be 'copy' or 'move'")
        if not paths or not all(isinstance(p, str) for p in paths):
            raise RpcError(INVALID_PARAMS, "param 'paths' must be a list of paths")
        return {"job_ids": daemon.submit_paths(paths, ImportMode(mode))}

    def action(run: Callable[[dict[str, Any]], Report], recount: bool = False,
               said: dict[str, Any] | None = None) -> Method:
        """A maintenance action (it takes the library writer itself) as a socket method; `said`
        is added to its answer."""
        def method(params: dict[str, Any]) -> dict[str, Any]:
            result = run(params).as_json() | (said or {})
            if recount:
                daemon.board.model_count = index.count()
            return result
        return method

    shelf = daemon.shelf
    return {
        "status": status,
        "jobs": lambda p: daemon.board.jobs(),
        "models": models,
        "model": model,
        "rescan": lambda p: {"entries_seen": daemon.rescan()},
        "import": import_,
        "retry-lookups": lambda p: {"queued": daemon.retry_lookups()},
        "identify": identify,
        "checkpoint": action(lambda p: actions.checkpoint(shelf)),
        "rebuild-index": action(lambda p: actions.rebuild(shelf), recount=True, said={"by": "daemon"}),
        "sync": action(lambda p: actions.sync(shelf, p.get("model"))),
        "health": action(lambda p: actions.health(shelf, bool(p.get("fix")), bool(p.get("dry_run")))),
        "delete": action(lambda p: actions.delete(shelf, _param(p, "model", str)), recount=True),
        "relocate": action(lambda p: actions.relocate_drive(shelf, _param(p, "old", str), _param(p, "new", str))),
        "adopt": lambda p: adopt_in_daemon(shelf, p, daemon.board, daemon.pipeline.cancel),
    }
