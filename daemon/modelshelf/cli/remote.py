"""Talking to a running daemon over its status socket."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ModelshelfError
from ..service.rpc import RpcError, call
from . import render


class DaemonNotRunning(ModelshelfError):
    def __init__(self, socket: Path) -> None:
        super().__init__(f"the modelshelf daemon is not running (no answer on {socket}); start it "
                         "with `systemctl --user start modelshelf` or `modelshelf daemon`")


def ask(config: Config, method: str, params: dict[str, Any] | None = None, timeout: float | None = 10.0) -> Any:
    """Call the daemon; DaemonNotRunning if nothing listens, ModelshelfError for its errors.
    timeout=None waits for a long action (adopt) however long it takes."""
    try:
        return call(config.service.socket, method, params, timeout)
    except (FileNotFoundError, ConnectionRefusedError):
        raise DaemonNotRunning(config.service.socket) from None
    except RpcError as e:
        raise ModelshelfError(str(e)) from None
    except (TimeoutError, OSError) as e:
        raise ModelshelfError(f"the daemon at {config.service.socket} did not answer ({e})") from None


def try_ask(config: Config, method: str, params: dict[str, Any] | None = None,
            timeout: float | None = 10.0) -> Any | None:
    """Like ask, but None when no daemon runs (the caller then works on the library itself)."""
    try:
        return ask(config, method, params, timeout)
    except DaemonNotRunning:
        return None


def follow_jobs(config: Config, job_ids: list[str], quiet: bool) -> list[dict[str, Any]]:
    """Show the daemon's progress on these jobs until all finished; return their final views."""
    waiting, finished, shown = set(job_ids), {}, 0.0
    while waiting:
        jobs = ask(config, "jobs")
        for job in jobs["recent"]:
            if job["job_id"] in waiting:
                waiting.discard(job["job_id"])
                finished[job["job_id"]] = job
                if not quiet:
                    if sys.stderr.isatty():
                        sys.stderr.write("\r\033[K")
                    print(render.job_line(job))
        running = [j for j in jobs["running"] if j["job_id"] in waiting]
        if running and not quiet and sys.stderr.isatty() and time.monotonic() - shown > 0.1:
            j = running[0]
            sys.stderr.write(render.progress_text(j["percent"] / 100, j["mb_per_s"], j["phase"],
                                                  Path(j["source"]).name))
            sys.stderr.flush()
            shown = time.monotonic()
        if waiting:
            time.sleep(0.1)  # polling a socket for progress, not synchronising threads
    return [finished[j] for j in job_ids]
