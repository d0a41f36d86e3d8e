"""What a folder's filesystem allows: its type, read-only, writable by us, NTFS quirks, and
whether we run sandboxed (flatpak, snap, docker), which hides or remaps paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .mounts import NTFS_FSTYPES, Mount, mount_of, read_mounts


@dataclass(frozen=True)
class FsFacts:
    path: str
    mount_point: str
    fstype: str
    device: tuple[int, int]
    read_only: bool
    writable: bool
    warnings: tuple[str, ...] = field(default_factory=tuple)
    is_ntfs: bool = False


def _is_ntfs(mount: Mount) -> bool:
    """By type, or for FUSE mounts (ntfs-3g of an image shows as plain "fuse") by the NTFS
    signature in the boot sector of the source, where we may read it."""
    if mount.fstype in NTFS_FSTYPES:
        return True
    if mount.fstype in ("fuse", "fuseblk"):
        try:
            with open(mount.source, "rb") as f:
                return f.read(11)[3:11] == b"NTFS    "
        except OSError:
            return mount.fstype == "fuseblk"   # unreadable device: fuseblk is almost always ntfs-3g
    return False


def sandbox() -> str | None:
    """The sandbox this process runs in, if any: paths outside it may not be what they seem."""
    if os.path.exists("/.flatpak-info"):
        return "flatpak"
    if os.environ.get("SNAP"):
        return "snap"
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return "container"
    return None


def fs_facts(path: Path, mounts: list[Mount] | None = None) -> FsFacts:
    mount = mount_of(path, mounts if mounts is not None else read_mounts())
    warnings = []
    if mount is None:
        return FsFacts(str(path), "", "unknown", (0, 0), False, os.access(path, os.W_OK), ("no mount found",))
    ntfs = _is_ntfs(mount)
    if ntfs:
        warnings.append("NTFS: symlinks made here may not work from Windows; hardlinks are used instead")
        if mount.fstype == "fuse.lowntfs-3g" or "windows_names" in mount.options:
            warnings.append("lowntfs-3g/windows_names: names with :*?\"<>| are refused")
    if mount.is_network:
        warnings.append(f"{mount.fstype} is a network filesystem: links may break when it is not mounted")
    if kind := sandbox():
        warnings.append(f"running inside {kind}: paths may differ from the host's")
    writable = os.access(path, os.W_OK) and not mount.read_only
    return FsFacts(str(path), mount.mount_point, mount.fstype, (mount.major, mount.minor), mount.read_only,
                   writable, tuple(warnings), ntfs)
