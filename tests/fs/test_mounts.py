"""fs/mounts.py against the kernel's own /proc/self/mountinfo: mounts the test makes (in its
private mount namespace) are found under their real names, escapes included, and mount_of
agrees with stat()'s device numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.fs.mounts import Mount, mount_of, read_mounts

from ..mounts import loop_fs, tmpfs


def _device(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return os.major(st.st_dev), os.minor(st.st_dev)


def test_the_real_mount_table_parses(tmp_path: Path) -> None:
    mounts = read_mounts()
    assert mounts and all(m.mount_point.startswith("/") and m.fstype for m in mounts)
    assert any(m.mount_point == "/" for m in mounts)
    assert any(m.mount_point == "/proc" and m.fstype == "proc" for m in mounts)
    here = mount_of(tmp_path, mounts)
    assert here is not None and (here.major, here.minor) == _device(tmp_path)
    assert str(tmp_path.resolve()).startswith(here.mount_point.rstrip("/") + "/")


# mountinfo writes space, tab, newline and backslash as \040 \011 \012 \134; other bytes raw.
STRANGE = "my models\twith\\odd\nname café 模型"


def test_escaped_mount_points_read_back_exactly(tmp_path: Path) -> None:
    where = tmp_path / STRANGE
    with tmpfs(where):
        raw = Path("/proc/self/mountinfo").read_bytes()
        assert b"my\\040models\\011with\\134odd\\012name" in raw    # what the kernel really writes
        found = [m for m in read_mounts() if m.mount_point == str(where)]
        assert len(found) == 1 and found[0].fstype == "tmpfs"
        inside = where / "sub"
        inside.mkdir()
        assert mount_of(inside) == found[0]
        assert (found[0].major, found[0].minor) == _device(inside)


def test_the_deepest_and_the_latest_mount_wins(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "outer") as outer:
        (outer / "inner").mkdir()
        with tmpfs(outer / "inner") as inner:
            assert mount_of(inner / "f").mount_point == str(inner)
            assert mount_of(outer / "f").mount_point == str(outer)
            assert mount_of(tmp_path / "outer-sibling") != mount_of(outer)      # a prefix is not a parent
            with tmpfs(inner):                     # mounted over: the top one is what paths reach
                top = mount_of(inner)
                assert top.mount_point == str(inner) and (top.major, top.minor) == _device(inner)


def test_read_only_and_options(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", options="ro,noexec") as ro, tmpfs(tmp_path / "rw") as rw:
        m = mount_of(ro)
        assert m.read_only and "noexec" in m.options and not m.is_network
        assert not mount_of(rw).read_only


def test_a_loop_mount_names_its_device(tmp_path: Path) -> None:
    with loop_fs("ext4", tmp_path, tmp_path / "ext4") as where:
        m = mount_of(where)
        assert (m.mount_point, m.fstype) == (str(where), "ext4")
        assert m.source.startswith("/dev/loop") and (m.major, m.minor) == _device(where)


def test_parses_optional_fields_and_skips_junk(tmp_path: Path) -> None:
    """Lines as other kernels write them: shared/master tags, no super options, a torn line."""
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n"
        "40 22 0:35 / /mnt/nas\\040share rw shared:5 master:2 - nfs4 srv:/export rw,vers=4.2\n"
        "41 22 0:36 / /media/u/USB ro - fuseblk /dev/sdb1\n"
        "not a mount line\n"
        "42 22 0:37 / /srv/s3 rw - fuse.rclone remote:bucket rw\n")
    mounts = read_mounts(str(info))
    assert mounts == [
        Mount("/", 8, 1, "ext4", "/dev/sda1", frozenset({"rw", "relatime", "errors=remount-ro"})),
        Mount("/mnt/nas share", 0, 35, "nfs4", "srv:/export", frozenset({"rw", "vers=4.2"})),
        Mount("/media/u/USB", 0, 36, "fuseblk", "/dev/sdb1", frozenset({"ro"})),
        Mount("/srv/s3", 0, 37, "fuse.rclone", "remote:bucket", frozenset({"rw"}))]
    assert [m.is_network for m in mounts] == [False, True, False, True]
    assert mounts[2].read_only
    assert mount_of(Path("/mnt/nas share/models"), mounts).fstype == "nfs4"
    assert mount_of(Path("/mnt/nas"), mounts).mount_point == "/"


@pytest.mark.parametrize("fstype", ["fuse.ntfs-3g", "fuse.lowntfs-3g", "fuseblk", "ntfs3"])
def test_local_ntfs_through_fuse_is_not_network(fstype: str) -> None:
    assert not Mount("/m", 0, 1, fstype, "/dev/sdb1", frozenset()).is_network
