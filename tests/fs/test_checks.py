"""fs/checks.py on real mounts: what fs_facts says about tmpfs, a loop ext4, a read-only mount
and an NTFS image through ntfs-3g (fuseblk, told apart by its boot sector)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.fs.checks import fs_facts, sandbox
from modelshelf.fs.mounts import Mount

from ..mounts import loop_fs, tmpfs


def _device(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return os.major(st.st_dev), os.minor(st.st_dev)


def _own_warnings(facts) -> tuple[str, ...]:
    """The warnings about the filesystem, without the one about where the test runs."""
    return tuple(w for w in facts.warnings if not w.startswith("running inside"))


def test_tmpfs_and_ext4_are_told_apart(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "t") as t, loop_fs("ext4", tmp_path, tmp_path / "e") as e:
        mem, disk = fs_facts(t), fs_facts(e / "lost+found")
        assert (mem.fstype, mem.mount_point, mem.device) == ("tmpfs", str(t), _device(t))
        assert (disk.fstype, disk.mount_point, disk.device) == ("ext4", str(e), _device(e))
    assert mem.device != disk.device
    for facts in (mem, disk):
        assert facts.writable and not facts.read_only and not facts.is_ntfs
        assert _own_warnings(facts) == ()


def test_a_read_only_mount_is_not_writable_even_for_root(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", options="ro") as ro:
        facts = fs_facts(ro)
    assert facts.read_only and not facts.writable      # os.access says yes to root; the mount says no


def test_ntfs_through_ntfs_3g_is_recognised_with_its_warning(tmp_path: Path) -> None:
    with loop_fs("ntfs", tmp_path, tmp_path / "ntfs") as where:
        facts = fs_facts(where)
    assert facts.fstype == "fuseblk" and facts.is_ntfs
    assert any(w.startswith("NTFS: symlinks made here may not work from Windows") for w in facts.warnings)
    assert not any("network filesystem" in w for w in facts.warnings)


def test_network_and_unknown_mounts_warn(tmp_path: Path) -> None:
    nas = [Mount("/", 8, 1, "ext4", "/dev/sda1", frozenset({"rw"})),
           Mount(str(tmp_path), 0, 40, "cifs", "//nas/models", frozenset({"rw"}))]
    facts = fs_facts(tmp_path, nas)
    assert (facts.fstype, facts.device) == ("cifs", (0, 40))
    assert "cifs is a network filesystem: links may break when it is not mounted" in facts.warnings
    lost = fs_facts(tmp_path, [])
    assert (lost.fstype, lost.warnings[0]) == ("unknown", "no mount found")


def test_lowntfs_windows_names_warns_about_forbidden_names(tmp_path: Path) -> None:
    mounts = [Mount(str(tmp_path), 0, 41, "fuse.lowntfs-3g", "/dev/sdb1", frozenset({"rw"}))]
    facts = fs_facts(tmp_path, mounts)
    assert facts.is_ntfs and not any("network" in w for w in facts.warnings)
    assert any("names with :*?\"<>| are refused" in w for w in facts.warnings)


def test_a_sandbox_is_reported_when_there_is_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAP", "/snap/modelshelf/1")        # how snapd marks a snap's processes
    assert sandbox() in ("flatpak", "snap", "container")
    assert any(w.startswith("running inside ") for w in fs_facts(tmp_path).warnings)
