"""The systemd user unit: rendered for this installation and written by `install-service`.

Hardening that still lets the daemon work (checked on systemd 252, see the tests):
- ProtectHome=read-only plus ReadWritePaths, not ProtectHome=yes: that hides /run/user/UID and
  with it NOTIFY_SOCKET, and the start times out.
- One ReadWritePaths entry for a shared parent of the inboxes and the library where there is
  one: every entry is its own bind mount, and a rename between two of them fails with EXDEV
  (the importer would fall back to copy + verify, slower).
- PrivateUsers=yes: without it a non-root user manager silently skips the sandboxing.
- RuntimeDirectory= creates $XDG_RUNTIME_DIR/modelshelf (0700) for the status socket.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

from ..config import AppConfig, Config
from ..fs.durable import atomic_write_bytes
from ..fs.paths import is_within
from ..links.apps import discover_installs, fixed_root

UNIT_NAME = "modelshelf.service"

_TEMPLATE = """\
[Unit]
Description=modelshelf: keeps AI model files in one verified library
Documentation=https://github.com/modelshelf/modelshelf
After=default.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
WatchdogSec=60
TimeoutStopSec={timeout_stop}
# A background service: imports yield the CPU and the disk to interactive work.
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
RuntimeDirectory=modelshelf
RuntimeDirectoryMode=0700
UMask=0077
{read_write}
ProtectSystem=strict
ProtectHome=read-only
PrivateUsers=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateMounts=yes
KeyringMode=private
DevicePolicy=closed
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RemoveIPC=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources

[Install]
WantedBy=default.target
"""


def writable_paths(config: Config) -> list[Path]:
    """Folders the daemon writes: the library, inboxes and state, merged under a common parent
    (other than the home folder itself) so that inbox → library renames stay on one mount; and
    the app installs it links models into (a glob root up to its first wildcard)."""
    home = Path.home()
    wanted = [config.paths.library, *config.paths.inboxes]
    common = Path(os.path.commonpath([os.path.abspath(p) for p in wanted]))
    groups = [common] if common not in (home, Path("/")) and common != home.parent else wanted
    apps = [p for app in config.apps for p in _app_paths(app, home)]
    result: list[Path] = []
    for p in [*groups, config.paths.state_dir, *apps]:
        if not any(p == r or r in p.parents for r in result):
            result.append(p)
    return result


def _app_paths(app: AppConfig, home: Path) -> list[Path]:
    """An app root up to its first wildcard, unless that is / or the home folder (or above it):
    making those writable would undo the sandbox, so the installs found now are listed instead."""
    if _too_broad(fixed_root(app), home):
        return [install.root for install in discover_installs((app,))]
    return [fixed_root(app)]


def _too_broad(root: Path, home: Path) -> bool:
    """/, a top-level folder such as /mnt or /opt, the home folder or one of its parents."""
    return len(root.parts) <= 2 or root == home or root in home.parents


def broad_app_roots(config: Config) -> list[str]:
    """App roots whose future installs need `install-service` again to become writable."""
    home = Path.home()
    return [app.root for app in config.apps if _too_broad(fixed_root(app), home)]


REFERENCE_EXEC = "%h/.local/bin/modelshelf daemon"  # `pip install --user`; install-service writes the real one


def exec_start() -> str:
    script = shutil.which("modelshelf")
    return f"{script} daemon" if script else f"{sys.executable} -m modelshelf daemon"


def render_unit(config: Config, exec_line: str | None = None) -> str:
    paths = writable_paths(config)
    read_write = "\n".join(f"ReadWritePaths=-{_escape(p)}" for p in paths)
    return _TEMPLATE.format(exec_start=exec_line or exec_start(), read_write=read_write,
                            timeout_stop=int(config.service.drain_seconds) + 30)


def _escape(path: Path) -> str:
    """systemd paths: home-relative as %h (portable between users), spaces escaped."""
    text = str(path)
    home = str(Path.home())
    if is_within(text, home):
        text = "%h" + text[len(home):]
    return text.replace("\\", "\\\\").replace(" ", "\\x20")


def unit_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "systemd" / "user" / UNIT_NAME


def install_unit(config: Config) -> Path:
    """Write the unit (atomically) and create the folders it names, so the sandbox can bind them."""
    for p in (config.paths.library.parent, *config.paths.inboxes, config.paths.state_dir):
        p.mkdir(parents=True, exist_ok=True)   # a missing folder would be left out of the sandbox
    for app in config.apps:                     # where installs will appear; an unmounted drive may refuse
        if app.root not in broad_app_roots(config):
            with contextlib.suppress(OSError):
                fixed_root(app).mkdir(parents=True, exist_ok=True)
    target = unit_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, render_unit(config).encode())
    return target
