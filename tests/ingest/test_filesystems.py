"""Imports across real filesystems: loop-mounted images and tmpfs (root only)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.config import ImportMode
from modelshelf.errors import ImportFailedError, NoSpaceError
from modelshelf.ingest import ImportJob, ImportOutcome
from modelshelf.shelf import Shelf

from ..conftest import make_config
from ..helpers import EMPTY_LIBRARY, digests, files_under
from ..models import write_big_safetensors, write_diffusers
from ..mounts import bind_mount, loop_fs, tmpfs


def test_move_across_filesystems_copies_verifies_and_deletes(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "inbox", "128m") as inbox, Shelf(make_config(tmp_path), writer=True) as shelf:
        src = write_big_safetensors(inbox / "x.safetensors", 40)
        before = digests(src)
        result = shelf.importer().run(ImportJob(src, ImportMode.MOVE))
        assert (result.method, result.source_removed) == ("copy", True)
        assert not src.exists()
        assert digests(shelf.library.root / result.path / "x.safetensors") == before


def test_move_between_bind_mounts_of_one_filesystem_is_exdev_too(tmp_path: Path) -> None:
    real = tmp_path / "real-inbox"
    real.mkdir()
    with bind_mount(real, tmp_path / "inbox") as inbox, Shelf(make_config(tmp_path), writer=True) as shelf:
        src = write_diffusers(inbox / "pipe")
        result = shelf.importer().run(ImportJob(src, ImportMode.MOVE))
        assert (result.method, result.source_removed) == ("copy", True)
        assert not src.exists() and len(files_under(shelf.library.root / result.path)) == 9


@pytest.mark.parametrize("kind", ["xfs", "btrfs"])
def test_copy_on_a_reflink_filesystem_clones(tmp_path: Path, kind: str) -> None:
    with loop_fs(kind, tmp_path, tmp_path / "mnt") as mnt:
        (mnt / "inbox").mkdir()
        src = write_big_safetensors(mnt / "inbox" / "big.safetensors", 24)
        os.sync()                                       # btrfs accounts delayed allocations late
        free_before = os.statvfs(mnt).f_bfree
        with Shelf(make_config(mnt), writer=True) as shelf:
            result = shelf.importer().run(ImportJob(src, ImportMode.COPY))
            stored = shelf.library.root / result.path / "big.safetensors"
            assert result.method == "clone"
            assert digests(stored) == digests(src)
        os.sync()
        used = (free_before - os.statvfs(mnt).f_bfree) * os.statvfs(mnt).f_frsize
        assert used < 8 << 20, f"a clone used {used} bytes"


def test_copy_on_ext4_streams(tmp_path: Path) -> None:
    with loop_fs("ext4", tmp_path, tmp_path / "mnt") as mnt:
        (mnt / "inbox").mkdir()
        src = write_big_safetensors(mnt / "inbox" / "big.safetensors", 16)
        with Shelf(make_config(mnt, reserve_mib=0), writer=True) as shelf:
            result = shelf.importer().run(ImportJob(src, ImportMode.COPY))
            assert result.method == "copy"
            assert digests(shelf.library.root / result.path / "big.safetensors") == digests(src)


@pytest.mark.fault
def test_disk_filling_up_mid_copy_leaves_source_and_no_tmp(tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "big.safetensors", 40)
    before = digests(src)
    with tmpfs(tmp_path / "lib", "64m") as lib, \
            Shelf(make_config(tmp_path, library=lib / "library", reserve_mib=0), writer=True) as shelf:
        filler = lib / "filler"

        def fill_the_disk(progress) -> None:  # another program takes the space meanwhile
            if not filler.exists():
                with open(filler, "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * (1 << 20))
                    except OSError:
                        pass

        with pytest.raises(ImportFailedError, match="No space left on device"):
            shelf.importer(on_progress=fill_the_disk).run(ImportJob(src, ImportMode.COPY))
        assert files_under(shelf.library.root) == EMPTY_LIBRARY
        assert shelf.index.count() == 0
    assert digests(src) == before


def test_free_space_is_checked_before_copying(tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "big.safetensors", 40)
    with tmpfs(tmp_path / "lib", "16m") as lib, \
            Shelf(make_config(tmp_path, library=lib / "library"), writer=True) as shelf:
        expected = r"no space left on .*: 41\.9 MB needed, 16\.8 MB free \(268\.4 MB of it kept in reserve\)"
        with pytest.raises(NoSpaceError, match=expected):
            shelf.importer().run(ImportJob(src, ImportMode.MOVE))
        assert files_under(shelf.library.root) == EMPTY_LIBRARY
    assert src.exists()


def test_duplicate_across_filesystems_removes_source_only_after_hash_match(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "inbox", "128m") as inbox, Shelf(make_config(tmp_path), writer=True) as shelf:
        a = write_big_safetensors(tmp_path / "a.safetensors", 4, seed=7)
        shelf.importer().run(ImportJob(a, ImportMode.COPY))
        b = inbox / "b.safetensors"
        b.write_bytes(a.read_bytes())
        result = shelf.importer().run(ImportJob(b, ImportMode.MOVE))
        assert result.outcome is ImportOutcome.DUPLICATE and result.source_removed and not b.exists()
