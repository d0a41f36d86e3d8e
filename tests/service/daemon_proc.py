"""The real daemon as a subprocess, with its own config, folders and fake NOTIFY_SOCKET."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from modelshelf.service.rpc import call

from ..helpers import wait_for


class NotifyListener:
    """A fake systemd: a datagram socket with SO_PASSCRED, like the real NOTIFY_SOCKET."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)
        self.messages: list[bytes] = []

    def drain(self) -> list[bytes]:
        """Everything received so far (never waits: callers wait with wait_for)."""
        while True:
            try:
                self.messages.append(self.sock.recv(65536))
            except BlockingIOError:
                return self.messages

    def fields(self) -> list[dict[str, str]]:
        return [dict(line.split("=", 1) for line in m.decode("utf-8").split("\n") if "=" in line)
                for m in self.drain()]

    def wait_for_field(self, key: str, value: str | None = None, timeout: float = 20) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            return next((f for f in self.fields() if key in f and (value is None or value in f[key])), None)
        return wait_for(found, timeout, f"{key}={value} from the daemon")  # type: ignore[return-value]

    def close(self) -> None:
        self.sock.close()


class DaemonProcess:
    def __init__(self, root: Path, extra_config: str = "", env: dict[str, str] | None = None,
                 prefix: list[str] | None = None) -> None:
        self.root = root
        self.prefix = prefix or []          # e.g. strace: the daemon runs under it
        self.inbox = root / "inbox"
        self.library = root / "library"
        self.short = Path(tempfile.mkdtemp(prefix="ms-", dir="/tmp"))  # unix socket paths are short
        self.socket = self.short / "run" / "status.sock"
        self.config = root / "config.toml"
        self.config.write_text(
            f'[paths]\nlibrary = "{self.library}"\ninboxes = ["{self.inbox}"]\nstate_dir = "{root / "state"}"\n'
            f'[inbox]\nquiet_seconds = 0.5\nrescan_seconds = 2\nincomplete_seconds = 2\n'
            f'[service]\nsocket = "{self.socket}"\ndrain_seconds = 10\nstatus_interval = 0.2\n{extra_config}')
        self.notify = NotifyListener(self.short)
        self.log = root / "daemon.log"
        self.env = {**os.environ, "NOTIFY_SOCKET": str(self.notify.path), "HOME": str(root),
                    "PYTHONPATH": str(Path(__file__).parents[2] / "daemon"), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None         # the daemon's own (READY's MAINPID), not the prefix's

    def command(self, prefix: list[str] | None = None) -> list[str]:
        return [*(self.prefix if prefix is None else prefix), sys.executable, "-m", "modelshelf", "--config",
                str(self.config), "daemon"]

    def start(self, wait: bool = True) -> DaemonProcess:
        self.notify.drain()
        self.notify.messages.clear()        # a READY from an earlier daemon must not count
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        if wait:
            ready = self.notify.wait_for_field("READY", "1", timeout=60 if self.prefix else 20)
            self.pid = int(ready.get("MAINPID", self.pid))
        return self

    def call(self, method: str, params: dict | None = None):
        return call(self.socket, method, params)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "modelshelf", "--config", str(self.config), *args],
                              env=self.env, capture_output=True, text=True, timeout=60)

    def finished_jobs(self) -> list[dict]:
        return self.call("jobs")["recent"]

    def wait_jobs(self, count: int, timeout: float = 30) -> list[dict]:
        return wait_for(lambda: (jobs := self.finished_jobs()) and len(jobs) >= count and jobs,
                        timeout, f"{count} finished jobs")  # type: ignore[return-value]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            # The daemon itself: a prefix such as strace would only forward the signal and detach.
            os.kill(self.pid or self.proc.pid, sig)
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code

    def logs(self) -> str:
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.notify.close()
            shutil.rmtree(self.short, ignore_errors=True)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def library_models(d: DaemonProcess) -> list[dict]:
    return json.loads(d.cli("list", "--json").stdout)
