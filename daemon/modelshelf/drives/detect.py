"""Which physical drive is behind a path, and is it an SSD or a spinning disk?

path → mount (/proc/self/mountinfo) → block device → its whole disk (partition parent), through
device-mapper and md slaves and loop backing files → queue/rotational. Anything unknown or
sandboxed counts as an HDD (one job at a time is the safe guess), with low confidence.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..fs.mounts import Mount, mount_of, read_mounts
from ..fs.paths import is_within

log = logging.getLogger(__name__)
_MEMORY_FS = {"tmpfs", "ramfs"}


class DriveKind(enum.StrEnum):
    SSD = "ssd"
    HDD = "hdd"


@dataclass(frozen=True)
class Drive:
    id: str                # the whole-disk name ("nvme0n1", "sda"), or a stand-in
    kind: DriveKind
    confident: bool
    reason: str

    @property
    def slots(self) -> int:
        """Jobs that may use this drive at once: SSDs handle parallel streams, HDDs seek."""
        return 2 if self.kind is DriveKind.SSD else 1


class DriveDetector:
    """Detects and caches drives per device; config overrides (path prefixes) win."""

    def __init__(self, ssd_paths: tuple[Path, ...] = (), hdd_paths: tuple[Path, ...] = (),
                 sysfs: Path = Path("/sys")) -> None:
        self._overrides = sorted([(os.path.realpath(p), DriveKind.SSD) for p in ssd_paths]
                                 + [(os.path.realpath(p), DriveKind.HDD) for p in hdd_paths],
                                 key=lambda o: -len(o[0]))
        self._sysfs = sysfs
        self._cache: dict[tuple[int, int], Drive] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def drive_of(self, path: Path) -> Drive:
        real = os.path.realpath(path)
        for prefix, kind in self._overrides:
            if is_within(real, prefix):
                return Drive(f"override:{prefix}", kind, True, f"configured as {kind} for {prefix}")
        mounts = read_mounts()
        mount = mount_of(Path(real), mounts)
        if mount is None:
            return self._unknown("no-mount", f"no mount found for {real}")
        with self._lock:
            key = (mount.major, mount.minor)
            if key not in self._cache:
                self._cache[key] = self._detect(mount, mounts, depth=0)
            return self._cache[key]

    def _detect(self, mount: Mount, mounts: list[Mount], depth: int) -> Drive:
        if mount.fstype in _MEMORY_FS:
            return Drive(f"memory:{mount.mount_point}", DriveKind.SSD, True, f"{mount.fstype} lives in memory")
        major, minor = mount.major, mount.minor
        if major == 0 and mount.source.startswith("/dev/"):  # btrfs and others use anonymous devices
            try:
                rdev = os.stat(mount.source).st_rdev
                major, minor = os.major(rdev), os.minor(rdev)
            except OSError:
                pass
        if major == 0:
            return self._unknown(f"{mount.fstype}:{mount.source}",
                                 f"{mount.mount_point} ({mount.fstype}) has no block device")
        return self._from_block(major, minor, mounts, depth)

    def _from_block(self, major: int, minor: int, mounts: list[Mount], depth: int) -> Drive:
        dev = self._sysfs / "dev" / "block" / f"{major}:{minor}"
        try:
            node = Path(os.path.realpath(dev))
            if (node / "partition").exists():
                node = node.parent
            name = node.name
        except OSError:
            return self._unknown(f"{major}:{minor}", f"no sysfs entry for block device {major}:{minor}")
        if depth < 8:
            backing = node / "loop" / "backing_file"
            if backing.exists():
                target = Path(backing.read_text().strip())
                inner = mount_of(target, mounts)
                if inner is not None:
                    return self._detect(inner, mounts, depth + 1)
            slaves = sorted((node / "slaves").glob("*")) if (node / "slaves").is_dir() else []
            if slaves:
                drives = [self._from_block(*_dev_numbers(s), mounts, depth + 1) for s in slaves]
                hdd = next((d for d in drives if d.kind is DriveKind.HDD), None)
                return hdd or drives[0]
        try:
            rotational = (node / "queue" / "rotational").read_text().strip()
        except OSError:
            return self._unknown(name, f"{name} does not say whether it rotates")
        kind = DriveKind.HDD if rotational == "1" else DriveKind.SSD
        return Drive(name, kind, True, f"{name} queue/rotational={rotational}")

    def _unknown(self, ident: str, why: str) -> Drive:
        if ident not in self._warned:
            self._warned.add(ident)
            log.info("drive of %s unknown (%s): treated as an HDD, one import at a time", ident, why)
        return Drive(ident, DriveKind.HDD, False, f"{why}; assumed HDD")


def _dev_numbers(slave: Path) -> tuple[int, int]:
    major, minor = (slave / "dev").read_text().strip().split(":")
    return int(major), int(minor)
