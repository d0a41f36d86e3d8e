"""Mount table facts from /proc/self/mountinfo: which mount a path is on, its type and device."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .paths import is_within

NETWORK_FSTYPES = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs",
                   "fuse.sshfs", "fuse.rclone", "fuse.s3fs", "fuse.gcsfuse")
NTFS_FSTYPES = frozenset({"ntfs", "ntfs3", "fuse.ntfs-3g", "fuse.lowntfs-3g"})   # and often fuseblk


@dataclass(frozen=True)
class Mount:
    mount_point: str
    major: int
    minor: int
    fstype: str
    source: str
    options: frozenset[str]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    @property
    def is_network(self) -> bool:
        """Known network types, and other named FUSE filesystems (local disks through FUSE are NTFS)."""
        return self.fstype in NETWORK_FSTYPES or (self.fstype.startswith("fuse.")
                                                  and self.fstype not in NTFS_FSTYPES)


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    return field.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def read_mounts(mountinfo: str = "/proc/self/mountinfo") -> list[Mount]:
    mounts = []
    with open(mountinfo, encoding="utf-8", errors="replace") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 6 or len(tail) < 2:
                continue
            major, minor = (int(x) for x in fields[2].split(":"))
            options = frozenset(fields[5].split(",")) | frozenset(tail[2].split(",") if len(tail) > 2 else ())
            mounts.append(Mount(_unescape(fields[4]), major, minor, tail[0], _unescape(tail[1]), options))
    return mounts


def mount_of(path: Path, mounts: list[Mount] | None = None) -> Mount | None:
    """The mount holding path (the deepest mount point above it; the last one wins on overmounts)."""
    real = os.path.realpath(path)
    best: Mount | None = None
    for m in mounts if mounts is not None else read_mounts():
        mp = m.mount_point
        if is_within(real, mp) and (
                best is None or len(mp) >= len(best.mount_point)):
            best = m
    return best
