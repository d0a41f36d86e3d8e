"""A real `systemd --user` manager with journald, in private mount and pid namespaces.

No PID-1 systemd is needed: manager-init.sh (the namespace's PID 1) prepares /run, a test user
with uid >= 1000, a delegated cgroup and journald, then starts the manager as that user. Tests
talk to it with systemctl and journalctl run as the user inside the namespaces, and reach its
files through /proc/PID/root. Root only; everything disappears with the namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import site
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..helpers import wait_for

INIT = Path(__file__).with_name("manager-init.sh")
CODE = Path(__file__).parents[2] / "daemon"
TOOLS = ("unshare", "nsenter", "setpriv", "systemctl", "journalctl")
BINARIES = (Path("/lib/systemd/systemd"), Path("/lib/systemd/systemd-journald"))


def unavailable() -> str | None:
    """None if a user manager can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root to build the namespaces of a systemd user manager (CI runs as root)"
    missing = [t for t in TOOLS if not shutil.which(t)] + [str(b) for b in BINARIES if not b.exists()]
    if missing:
        return f"missing {', '.join(missing)} (apt-get install systemd util-linux)"
    return _cgroup_problem()


def cgroup_trees() -> list[Path]:
    """Where the manager's cgroup goes: the v2 root, or both hierarchies of a hybrid layout."""
    root = Path("/sys/fs/cgroup")
    return [root] if (root / "cgroup.procs").exists() else [root / "unified", root / "systemd"]


def _cgroup_problem() -> str | None:
    for tree in cgroup_trees():
        probe = tree / f"msh-probe-{uuid.uuid4().hex[:6]}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError as e:
            return f"cannot create a cgroup under {tree} to delegate ({e.strerror}; a container?)"
    return None


class UserManager:
    uid = 4242
    home = Path("/home/mstest")

    def __init__(self) -> None:
        self.cgroup = f"msh{uuid.uuid4().hex[:8]}.slice"
        self.runtime = f"/run/user/{self.uid}"
        self.proc: subprocess.Popen | None = None
        self.pid1 = 0

    def start(self, timeout: float = 30) -> UserManager:
        reason = unavailable()
        if reason:
            pytest.skip(reason)
        # pyenv and the like keep Python under a 0700 /root: the user must reach the interpreter,
        # a virtual environment's own prefix, and the packages.
        readable = sorted({sys.base_prefix, sys.prefix, *site.getsitepackages()})
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "bash",
             str(INIT), str(self.uid), self.cgroup, str(CODE), str(int(timeout)), *readable],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._wait_ready(timeout)
        self.pid1 = int(Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()[0])
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc and self.proc.stdout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if line.strip() == b"manager-ready":
                    return
                if not line:
                    break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        err = self.proc.stderr.read1().decode(errors="replace") if self.proc.poll() is not None else ""
        self.close()
        raise AssertionError(f"systemd --user did not start within {timeout:.0f} s: {err}")

    # --- inside the namespaces ---------------------------------------------------------------

    def env(self) -> list[str]:
        return [f"HOME={self.home}", "USER=mstest", f"XDG_RUNTIME_DIR={self.runtime}",
                f"PATH={Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                "PYTHONPATH=/srv/modelshelf/daemon", "HF_HUB_OFFLINE=1", "SYSTEMD_COLORS=0", "LANG=C.UTF-8"]

    def run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run cmd as the test user, inside the manager's namespaces."""
        assert self.pid1, "the manager is not running"
        return subprocess.run(
            ["nsenter", "-t", str(self.pid1), "-m", "-p", "setpriv", f"--reuid={self.uid}", f"--regid={self.uid}",
             "--init-groups", "env", "-i", *self.env(), *cmd], capture_output=True, text=True, timeout=timeout)

    def systemctl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return self.run("systemctl", "--user", "--no-pager", *args, timeout=timeout)

    def show(self, prop: str, unit: str = "modelshelf") -> str:
        return self.systemctl("show", "-p", prop, "--value", unit).stdout.strip()

    def journal(self, unit: str = "modelshelf") -> list[dict]:
        out = self.run("journalctl", "--user", "-u", unit, "-o", "json", "--no-pager").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def path(self, inside: str | Path) -> Path:
        """A path in the manager's mount namespace, as this process sees it."""
        return Path(f"/proc/{self.pid1}/root{inside}")

    def give(self, inside: Path) -> None:
        """Hand a file or folder made by root over to the test user (as if they had made it)."""
        for p in [self.path(inside), *self.path(inside).rglob("*")]:
            os.chown(p, self.uid, self.uid, follow_symlinks=False)

    # --- teardown ----------------------------------------------------------------------------

    def close(self) -> None:
        if self.proc is None:
            return
        if self.pid1:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.systemctl("exit")            # stops modelshelf the way a logout does
            os.kill(self.pid1, signal.SIGKILL)    # PID 1 gone: the kernel ends the whole namespace
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.proc = None
        self._remove_cgroups()

    def _remove_cgroups(self) -> None:
        for tree in cgroup_trees():
            top = tree / self.cgroup
            if top.is_dir():
                folders = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
                for folder in [*folders, top]:
                    wait_for(lambda f=folder: _rmdir(f), 10, f"{folder} to empty")

    def __enter__(self) -> UserManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rmdir(folder: Path) -> bool:
    """rmdir a cgroup; False while its last processes are still exiting."""
    try:
        folder.rmdir()
        return True
    except OSError:
        return False
