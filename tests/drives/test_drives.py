from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelshelf.drives import Drive, DriveDetector, DriveKind, DriveQueues
from modelshelf.fs.mounts import mount_of, read_mounts

from ..helpers import wait_for
from ..mounts import loop_fs, tmpfs


def test_mountinfo_parsing_and_lookup(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
                    "30 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
                    "31 30 8:17 / /mnt/my\\040disk ro,relatime shared:1 - xfs /dev/sdb1 rw\n"
                    "32 30 0:50 / /mnt/nas rw - nfs4 nas:/export rw\n"
                    "33 30 0:51 / /mnt/ntfs rw - fuse.ntfs-3g /dev/sdc1 rw\n"
                    "34 30 0:52 / /mnt/ssh rw - fuse.sshfs me@host: rw\n")
    mounts = read_mounts(str(info))
    disk = mount_of(Path("/mnt/my disk/models/x"), mounts)
    assert (disk.mount_point, disk.fstype, disk.major, disk.minor) == ("/mnt/my disk", "xfs", 8, 17)
    assert disk.read_only
    assert mount_of(Path("/mnt/nas/a"), mounts).is_network and mount_of(Path("/mnt/ssh"), mounts).is_network
    assert not mount_of(Path("/mnt/ntfs/a"), mounts).is_network         # a local disk through FUSE
    assert mount_of(Path("/mnt/nasty"), mounts).mount_point == "/"      # whole components only


def test_this_machines_disk_is_found(tmp_path: Path) -> None:
    drive = DriveDetector().drive_of(tmp_path)
    rotational = Path("/sys/block") / drive.id / "queue" / "rotational"
    if not drive.confident or not rotational.exists():
        pytest.skip(f"no block device visible here ({drive.reason})")
    expected = DriveKind.HDD if rotational.read_text().strip() == "1" else DriveKind.SSD
    assert drive.kind is expected                      # what the kernel says of the whole disk
    assert not (Path("/sys/block") / drive.id / "partition").exists()


def test_config_override_wins(tmp_path: Path) -> None:
    detector = DriveDetector(ssd_paths=(tmp_path / "fast",), hdd_paths=(tmp_path,))
    assert detector.drive_of(tmp_path / "fast" / "x").kind is DriveKind.SSD
    assert detector.drive_of(tmp_path / "slow").kind is DriveKind.HDD


def test_tmpfs_is_memory(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "t", "8m") as t:
        drive = DriveDetector().drive_of(t)
        assert (drive.kind, drive.confident) == (DriveKind.SSD, True)


@pytest.mark.parametrize("kind", ["ext4", "btrfs"])
def test_loop_device_resolves_to_its_backing_files_drive(tmp_path: Path, kind: str) -> None:
    detector = DriveDetector()
    backing = detector.drive_of(tmp_path)
    with loop_fs(kind, tmp_path, tmp_path / "mnt") as mnt:
        drive = detector.drive_of(mnt)
        assert (drive.id, drive.kind) == (backing.id, backing.kind), drive.reason


SSD = Drive("nvme0n1", DriveKind.SSD, True, "test")
HDD = Drive("sda", DriveKind.HDD, True, "test")


class Recorder:
    """Runs jobs that block until released, recording which run at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.release = {name: threading.Event() for name in "abcdef"}
        self.together: list[set[str]] = []

    def run(self, name: str) -> None:
        with self.lock:
            self.running.add(name)
            self.together.append(set(self.running))
        self.release[name].wait(10)
        with self.lock:
            self.running.discard(name)


@contextlib.contextmanager
def running_queues(workers: int) -> Iterator[tuple[DriveQueues[str], Recorder]]:
    """Queues whose jobs block until released; every job is released and the queues stopped after."""
    rec = Recorder()
    queues: DriveQueues[str] = DriveQueues(rec.run, workers=workers)
    queues.start()
    try:
        yield queues, rec
    finally:
        for e in rec.release.values():
            e.set()
        assert queues.stop(5)


def test_ssd_runs_two_hdd_one_and_jobs_hold_both_drives() -> None:
    with running_queues(workers=4) as (queues, rec):
        queues.submit("a", (SSD,))
        queues.submit("b", (SSD,))
        queues.submit("c", (SSD,))          # a third SSD job waits for a slot
        queues.submit("d", (HDD, SSD))      # needs the HDD and an SSD slot
        wait_for(lambda: rec.running == {"a", "b"}, 5, "two SSD jobs running")
        assert len(queues.snapshot()[0]) == 2
        rec.release["a"].set()
        wait_for(lambda: len(rec.running) == 2 and "a" not in rec.running, 5, "the next job")
        for name in "bcd":
            rec.release[name].set()
        wait_for(lambda: not any(queues.snapshot()), 5, "all jobs done")
        assert all(len(s & {"a", "b", "c", "d"}) <= 2 for s in rec.together)


def test_hdd_job_does_not_block_ssd_jobs_behind_it() -> None:
    with running_queues(workers=3) as (queues, rec):
        queues.submit("a", (HDD,))
        queues.submit("b", (HDD,))          # waits for the HDD
        queues.submit("c", (SSD,))          # must not wait behind b
        wait_for(lambda: rec.running == {"a", "c"}, 5, "the SSD job to pass the waiting HDD job")
