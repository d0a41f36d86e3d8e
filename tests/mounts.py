"""Real filesystems for tests: tmpfs and loop-mounted images (root only; skipped otherwise).

The test process enters a private mount namespace first, so no mount it makes is seen by the
rest of the machine, and every mount is also unmounted by its fixture.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE = 0x4000, 0x40000
_MKFS = {"ext4": (["mkfs.ext4", "-q", "-F", "-m", "0"], 64), "xfs": (["mkfs.xfs", "-q", "-f"], 320),
         "btrfs": (["mkfs.btrfs", "-q", "-f"], 256), "ntfs": (["mkntfs", "-q", "-F", "-Q"], 64)}
_isolated = False


def can_mount() -> str | None:
    """None if this process may mount, else the reason it may not."""
    if os.geteuid() != 0:
        return "needs root to mount filesystems (CI runs as root)"
    if not os.access("/dev/loop-control", os.W_OK):
        return "no writable /dev/loop-control"
    return None


def isolate_mounts() -> None:
    """Enter a private mount namespace (once, before any thread starts)."""
    global _isolated
    if _isolated or can_mount():
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) == 0:
        libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None)
        _isolated = True


def require_mount() -> None:
    reason = can_mount()
    if reason:
        pytest.skip(reason)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "64m", options: str = "") -> Iterator[Path]:
    require_mount()
    where.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size}" + (f",{options}" if options else ""),
         f"msh-{uuid.uuid4().hex[:6]}", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


@contextlib.contextmanager
def loop_fs(kind: str, image_dir: Path, where: Path) -> Iterator[Path]:
    require_mount()
    cmd, megabytes = _MKFS[kind]
    if not shutil.which(cmd[0]):
        pytest.skip(f"{cmd[0]} is not installed (apt-get install "
                    f"{ {'ext4': 'e2fsprogs', 'xfs': 'xfsprogs', 'btrfs': 'btrfs-progs', 'ntfs': 'ntfs-3g'}[kind]})")
    image = image_dir / f"{kind}-{uuid.uuid4().hex[:6]}.img"
    with open(image, "wb") as f:
        f.truncate(megabytes << 20)
    _run(*cmd, str(image))
    where.mkdir(parents=True, exist_ok=True)
    loop = None
    if kind == "ntfs":  # through a loop device, as a real disk: ntfs-3g then shows as fuseblk
        loop = subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True,
                              text=True).stdout.strip()
        _run("ntfs-3g", loop, str(where))
    else:
        _run("mount", "-o", "loop", str(image), str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True)
        image.unlink(missing_ok=True)


@contextlib.contextmanager
def bind_mount(source: Path, where: Path) -> Iterator[Path]:
    require_mount()
    where.mkdir(parents=True, exist_ok=True)
    _run("mount", "--bind", str(source), str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)
