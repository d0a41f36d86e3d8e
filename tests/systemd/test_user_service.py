"""The unit under a real `systemd --user` manager and journald, as a user with uid >= 1000.

The unit is the one `modelshelf install-service` writes, hardening and all. One drop-in adapts
it to the test machine: PYTHONPATH to this checkout (bound at /srv, since the unit's PrivateTmp
hides a checkout under /tmp) and HF_HUB_OFFLINE (no test reaches the real Hub); some tests add
a short watchdog so that they take seconds rather than minutes.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .. import tally
from ..helpers import sha256, wait_for
from ..models import write_big_safetensors
from .manager import UserManager

HOME = UserManager.home
INBOX = HOME / ".local/share/modelshelf/inbox"
LIBRARY = HOME / ".local/share/modelshelf/library"
LORAS = HOME / "comfy/v1/models/loras"
CONFIG = """\
[inbox]
quiet_seconds = 0.5
[service]
drain_seconds = 60
status_interval = 0.2
[[apps]]
root = "~/comfy/*"
"""
def import_megabytes(seconds: float = 1.5) -> int:
    """A model size whose import (bound by SHA-256 here) lasts about `seconds` on this machine:
    long enough to watch and to stop mid-import, on a fast machine too (within the 2 GB /home)."""
    block = bytes(64 << 20)
    started = time.perf_counter()
    hashlib.sha256(block).digest()
    mb_per_s = 64 / (time.perf_counter() - started)
    return max(400, min(1800, int(mb_per_s * seconds)))


IMPORT_MB = import_megabytes()
CHECKOUT_DROP_IN = """\
[Service]
Environment=PYTHONPATH=/srv/modelshelf/daemon HF_HUB_OFFLINE=1
"""


@pytest.fixture
def manager() -> Iterator[UserManager]:
    with UserManager() as m:
        yield m


def install(m: UserManager, drop_in: str = "") -> None:
    """What a user does: a config file, `modelshelf install-service`, daemon-reload."""
    config = m.path(HOME / ".config/modelshelf/config.toml")
    config.parent.mkdir(parents=True)
    config.write_text(CONFIG)
    m.path(LORAS).mkdir(parents=True)
    m.give(HOME)
    result = m.run("python3", "-m", "modelshelf", "install-service")
    assert result.returncode == 0, result.stderr
    unit = m.path(HOME / ".config/systemd/user/modelshelf.service").read_text()
    assert "ProtectHome=read-only" in unit and "ReadWritePaths=-%h/comfy" in unit
    folder = m.path(HOME / ".config/systemd/user/modelshelf.service.d")
    folder.mkdir()
    (folder / "test.conf").write_text(CHECKOUT_DROP_IN + drop_in)
    m.give(HOME / ".config")
    assert m.systemctl("daemon-reload").returncode == 0


def start(m: UserManager) -> None:
    result = m.systemctl("start", "modelshelf")     # Type=notify: returns once READY=1 arrived
    assert result.returncode == 0, m.systemctl("status", "modelshelf").stdout + result.stderr
    assert (m.show("ActiveState"), m.show("SubState")) == ("active", "running")


def drop(m: UserManager, name: str, megabytes: int, inbox: Path = INBOX) -> str:
    """Write a model beside the inbox, then move it in (one rename, as a finished download); its SHA-256."""
    staged = write_big_safetensors(m.path(HOME / name), megabytes)
    digest = sha256(staged)
    m.give(HOME / name)
    os.rename(staged, m.path(inbox / name))
    return digest


def status_lines(m: UserManager, until: str, timeout: float = 60) -> list[str]:
    """Every distinct StatusText seen until one contains `until`."""
    seen: list[str] = []

    def reached() -> bool:
        text = m.show("StatusText")
        if not seen or seen[-1] != text:
            seen.append(text)
        return until in text
    wait_for(reached, timeout, f"a status line with {until!r}")
    return seen


def daemon_lines(m: UserManager, until: str, timeout: float = 30) -> list[str]:
    """The daemon's journal lines, once one contains `until` (journald reads the stream on its own time)."""
    def lines() -> list[str]:
        found = [e["MESSAGE"] for e in m.journal() if e.get("SYSLOG_IDENTIFIER") == "modelshelf"]
        return found if any(until in line for line in found) else []
    return wait_for(lines, timeout, f"{until!r} in the journal")  # type: ignore[return-value]


def daemon_mounts(m: UserManager) -> dict[str, str]:
    """Mount point → read-only or read-write, as the running daemon sees its file system."""
    text = m.path(f"/proc/{m.show('MainPID')}/mountinfo").read_text()
    return {fields[4]: fields[5].split(",")[0] for fields in (line.split() for line in text.splitlines())}


def library_files(m: UserManager, suffix: str) -> list[Path]:
    return sorted(m.path(LIBRARY).rglob(f"*{suffix}"))


def test_starts_ready_shows_live_status_and_imports_inside_the_sandbox(manager: UserManager) -> None:
    install(manager)
    start(manager)
    assert manager.show("StatusText").startswith("idle · 0 models")
    mounts = daemon_mounts(manager)                      # the hardening is applied, not skipped
    assert (mounts["/"], mounts["/home"], mounts[f"{HOME}/.local/share/modelshelf"], mounts[f"{HOME}/comfy"]) == (
        "ro", "ro", "rw", "rw"), mounts
    digest = drop(manager, "big.safetensors", IMPORT_MB)

    seen = status_lines(manager, "importing big.safetensors")
    status = manager.systemctl("status", "modelshelf").stdout
    assert "Active: active (running)" in status
    seen += status_lines(manager, "idle · 1 model · inbox empty")
    assert any(re.search(r"importing big.safetensors ([1-9]\d?)% [1-9]\d* MB/s", line) for line in seen), seen

    [model] = library_files(manager, ".safetensors")
    assert sha256(model) == digest
    assert list(manager.path(INBOX).iterdir()) == []         # moved by a rename inside the sandbox
    link = manager.path(LORAS / "big.safetensors")
    assert link.is_symlink() and not os.readlink(link).startswith("/")     # relative: one filesystem
    assert (link.parent / os.readlink(link)).resolve() == model.resolve()
    cli = manager.run("python3", "-m", "modelshelf", "status")           # the CLI through the socket
    assert cli.returncode == 0 and "1 model" in cli.stdout, cli.stdout + cli.stderr
    tally.report(f"systemd --user: READY, hardened mounts, {len(seen)} status lines during an import: {seen[-3:]}")


def test_journal_keeps_each_line_with_its_priority(manager: UserManager) -> None:
    install(manager)
    start(manager)
    notes = manager.path(INBOX / "notes.txt")
    notes.write_text("not a model")
    manager.give(INBOX / "notes.txt")
    wait_for(lambda: manager.path(INBOX / "failed/notes.txt").exists(), 30, "notes.txt in failed/")

    def logged() -> list[dict]:
        entries = [e for e in manager.journal() if e.get("_SYSTEMD_USER_UNIT") == "modelshelf.service"
                   and e.get("SYSLOG_IDENTIFIER") == "modelshelf"]
        return entries if any("not a model file type" in e["MESSAGE"] for e in entries) else []
    entries = wait_for(logged, 30, "the failure in the journal")
    by_text = {e["MESSAGE"]: int(e["PRIORITY"]) for e in entries}
    ready = next(p for text, p in by_text.items() if "daemon ready" in text)
    failure = next(p for text, p in by_text.items() if "not a model file type" in text)
    assert (ready, failure) == (6, 3)                    # info, error
    assert not any(text.startswith("<") for text in by_text)     # the <N> prefix was consumed
    tally.report(f"systemd --user: journal priorities {sorted(set(by_text.values()))} over {len(entries)} lines")


def test_watchdog_restarts_a_hung_daemon(manager: UserManager) -> None:
    install(manager, "WatchdogSec=2\nRestartSec=1\n")
    start(manager)
    hung = manager.show("MainPID")
    assert manager.systemctl("kill", "--signal=SIGSTOP", "modelshelf").returncode == 0   # frozen, pings stop

    def restarted() -> bool:
        return (manager.show("NRestarts") == "1" and manager.show("ActiveState") == "active"
                and manager.show("MainPID") not in ("0", hung))
    wait_for(restarted, 30, "systemd to restart the hung daemon")
    wait_for(lambda: any("Watchdog timeout" in e["MESSAGE"] for e in manager.journal()), 30,
             "systemd's watchdog line in the journal")
    assert manager.show("StatusText").startswith("idle")          # the new daemon is serving


def test_stop_drains_the_running_import(manager: UserManager) -> None:
    install(manager)
    start(manager)
    digest = drop(manager, "big.safetensors", IMPORT_MB)
    status_lines(manager, "importing big.safetensors")
    result = manager.systemctl("stop", "modelshelf")         # returns when the daemon has exited
    assert result.returncode == 0, result.stderr
    assert (manager.show("ActiveState"), manager.show("Result"), manager.show("ExecMainStatus")) == (
        "inactive", "success", "0")
    [model] = library_files(manager, ".safetensors")          # the running import finished first
    assert sha256(model) == digest
    assert list(manager.path(INBOX).iterdir()) == []
    steps = ("stopping: letting 1 running import finish", "imported ", "daemon stopped")
    messages = daemon_lines(manager, steps[-1])
    order = [next(i for i, m in enumerate(messages) if text in m) for text in steps]
    assert order == sorted(order), messages                # stop began mid-import, and waited for it
    assert not library_files(manager, ".tmp") and not any(manager.path(LIBRARY / ".modelshelf-tmp").iterdir())



def test_reload_watches_a_new_inbox_without_a_restart(manager: UserManager) -> None:
    install(manager)
    start(manager)
    pid = manager.show("MainPID")
    second = INBOX.with_name("inbox-2")
    manager.path(second).mkdir()
    manager.give(second)
    config = manager.path(HOME / ".config/modelshelf/config.toml")
    config.write_text(f'[paths]\ninboxes = ["{INBOX}", "{second}"]\n' + CONFIG)
    result = manager.systemctl("reload", "modelshelf")        # RELOADING=1 … READY=1 over NOTIFY_SOCKET
    assert result.returncode == 0, result.stderr
    # systemd 252 ends the reload job when ExecReload's kill returns; RELOADING=1 then holds the
    # unit in "reloading" until the daemon's READY=1.
    wait_for(lambda: manager.show("ActiveState") == "active", 30, "READY=1 after the reload")
    assert manager.show("MainPID") == pid
    daemon_lines(manager, "configuration reloaded from")
    digest = drop(manager, "second.safetensors", 4, inbox=second)
    status_lines(manager, "idle · 1 model · inbox empty")
    [model] = library_files(manager, ".safetensors")
    assert sha256(model) == digest and list(manager.path(second).iterdir()) == []
