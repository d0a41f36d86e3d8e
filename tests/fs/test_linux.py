"""fs/linux.py on real files: renameat2(RENAME_NOREPLACE), FICLONE where the filesystem shares
extents (xfs, btrfs) and its refusal where it cannot (ext4, tmpfs), and the writeback hints."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.fs.linux import (
    SYNC_FILE_RANGE_WAIT_AFTER,
    SYNC_FILE_RANGE_WAIT_BEFORE,
    SYNC_FILE_RANGE_WRITE,
    clone_file,
    drop_cache,
    rename_noreplace,
    sync_file_range,
)

from ..mounts import loop_fs, tmpfs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "d").mkdir()
    return tmp_path / "d"


def test_rename_noreplace_moves_to_a_free_name(folder: Path) -> None:
    (folder / "a").write_bytes(b"A")
    rename_noreplace(folder / "a", folder / "b")
    assert not (folder / "a").exists() and (folder / "b").read_bytes() == b"A"
    (folder / "dir").mkdir()
    rename_noreplace(str(folder / "dir"), str(folder / "dir2"))          # folders too, str paths too
    assert (folder / "dir2").is_dir()


@pytest.mark.parametrize("existing", ["file", "empty folder", "dangling symlink"])
def test_rename_noreplace_never_replaces(folder: Path, existing: str) -> None:
    src, dst = folder / "src", folder / "dst"
    src.write_bytes(b"new")
    if existing == "file":
        dst.write_bytes(b"old")
    elif existing == "empty folder":
        dst.mkdir()                       # plain rename() would replace an empty folder with a folder
        src.unlink()
        src.mkdir()
    else:
        dst.symlink_to(folder / "nowhere")
    with pytest.raises(FileExistsError) as caught:
        rename_noreplace(src, dst)
    assert caught.value.errno == errno.EEXIST
    assert src.exists() and os.path.lexists(dst)
    if existing == "file":
        assert (src.read_bytes(), dst.read_bytes()) == (b"new", b"old")
    elif existing == "dangling symlink":
        assert dst.is_symlink()


def test_rename_noreplace_reports_a_missing_source_by_name(folder: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        rename_noreplace(folder / "missing", folder / "dst")
    assert caught.value.filename == str(folder / "missing") and caught.value.filename2 == str(folder / "dst")
    assert not (folder / "dst").exists()


def test_rename_noreplace_across_filesystems_is_exdev(tmp_path: Path, folder: Path) -> None:
    (folder / "a").write_bytes(b"A")
    with tmpfs(tmp_path / "other") as other:
        with pytest.raises(OSError) as caught:
            rename_noreplace(folder / "a", other / "a")
        assert caught.value.errno == errno.EXDEV
        assert (folder / "a").read_bytes() == b"A" and not (other / "a").exists()


def _clone(src: Path, dst: Path) -> bool:
    with open(src, "rb") as s, open(dst, "wb") as d:
        return clone_file(s.fileno(), d.fileno())


def _data(path: Path, size: int = 3 * 4096 + 17) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def test_clone_file_is_refused_on_tmpfs(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "t") as where:
        _data(where / "src")
        assert _clone(where / "src", where / "dst") is False
        assert (where / "dst").stat().st_size == 0       # nothing half-written: the caller copies instead


def test_clone_file_is_refused_on_ext4(tmp_path: Path) -> None:
    with loop_fs("ext4", tmp_path, tmp_path / "ext4") as where:
        _data(where / "src")
        assert _clone(where / "src", where / "dst") is False
        assert (where / "dst").stat().st_size == 0


def test_clone_file_is_refused_across_filesystems(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "a") as a, tmpfs(tmp_path / "b") as b:
        _data(a / "src")
        assert _clone(a / "src", b / "dst") is False


@pytest.mark.parametrize("kind", ["xfs", "btrfs"])
def test_clone_file_shares_extents_on_xfs_and_btrfs(tmp_path: Path, kind: str) -> None:
    with loop_fs(kind, tmp_path, tmp_path / kind) as where:
        data = _data(where / "src", 4 << 20)
        os.sync()
        free = os.statvfs(where).f_bfree
        assert _clone(where / "src", where / "dst") is True
        assert (where / "dst").read_bytes() == data
        os.sync()
        # A copy would take 4 MiB of blocks; a reflink takes (almost) none.
        used = (free - os.statvfs(where).f_bfree) * os.statvfs(where).f_frsize
        assert used < 1 << 20, f"{used} bytes used by a clone"
        with open(where / "dst", "r+b") as f:       # the clone is copy-on-write: the source is unchanged
            f.write(b"changed")
        assert (where / "src").read_bytes() == data


def test_writeback_hints_on_a_real_file(folder: Path) -> None:
    data = _data(folder / "f", 1 << 20)
    fd = os.open(folder / "f", os.O_RDWR)
    try:
        sync_file_range(fd, 0, len(data), SYNC_FILE_RANGE_WRITE)
        sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE
                        | SYNC_FILE_RANGE_WAIT_AFTER)
        drop_cache(fd, 0, 0)
        drop_cache(fd, 0, len(data))
    finally:
        os.close(fd)
    assert (folder / "f").read_bytes() == data       # hints change no bytes


def test_writeback_hints_tolerate_what_cannot_be_synced_but_not_a_bad_fd() -> None:
    r, w = os.pipe()
    try:
        sync_file_range(w, 0, 0, SYNC_FILE_RANGE_WRITE)      # ESPIPE: writeback happens at fsync
        drop_cache(r, 0, 0)                                   # fadvise on a pipe fails quietly
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(OSError) as caught:
        sync_file_range(r, 0, 0, SYNC_FILE_RANGE_WRITE)       # a closed fd is a bug, not a filesystem
    assert caught.value.errno == errno.EBADF


def test_rename_noreplace_on_ntfs_3g(tmp_path: Path) -> None:
    """FUSE filesystems may lack RENAME_NOREPLACE (EINVAL): the fallback must refuse just the same."""
    with loop_fs("ntfs", tmp_path, tmp_path / "ntfs") as where:
        (where / "a").write_bytes(b"A")
        (where / "b").write_bytes(b"B")
        with pytest.raises(FileExistsError):
            rename_noreplace(where / "a", where / "b")
        assert (where / "b").read_bytes() == b"B"
        rename_noreplace(where / "a", where / "c")
        assert (where / "c").read_bytes() == b"A" and not (where / "a").exists()


RENAME = ("import sys; from modelshelf.fs.linux import rename_noreplace\n"
          "try:\n    rename_noreplace(sys.argv[1], sys.argv[2])\n"
          "except FileExistsError:\n    print('exists')\n")


def _traced_rename(tmp_path: Path, src: Path, dst: Path, *inject: str) -> tuple[str, str]:
    """rename_noreplace in a process under strace; returns (its stdout, the renameat2 calls)."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    log = tmp_path / "strace.log"
    proc = subprocess.run(["strace", "-f", "-qq", "-o", str(log), "-e", "trace=renameat2,rename", *inject,
                           sys.executable, "-c", RENAME, str(src), str(dst)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, log.read_text()


def test_rename_noreplace_is_one_atomic_renameat2(tmp_path: Path, folder: Path) -> None:
    (folder / "a").write_bytes(b"A")
    out, calls = _traced_rename(tmp_path, folder / "a", folder / "b")
    assert out == "" and (folder / "b").read_bytes() == b"A"
    assert f'renameat2(AT_FDCWD, "{folder}/a", AT_FDCWD, "{folder}/b", RENAME_NOREPLACE) = 0' in calls
    assert "rename(" not in calls.replace("renameat2(", "")       # no check-then-rename race


@pytest.mark.fault
@pytest.mark.parametrize("existing", ["file", "dangling symlink", None])
def test_the_fallback_without_renameat2_never_replaces(tmp_path: Path, folder: Path, existing: str | None) -> None:
    """A filesystem refusing RENAME_NOREPLACE (EINVAL, as some FUSE ones do): injected with strace."""
    (folder / "a").write_bytes(b"A")
    if existing == "file":
        (folder / "b").write_bytes(b"B")
    elif existing == "dangling symlink":
        (folder / "b").symlink_to(folder / "nowhere")
    out, calls = _traced_rename(tmp_path, folder / "a", folder / "b", "-e", "inject=renameat2:error=EINVAL")
    assert "INJECTED" in calls
    if existing is None:
        assert out == "" and (folder / "b").read_bytes() == b"A" and not (folder / "a").exists()
    else:
        assert out == "exists\n" and (folder / "a").read_bytes() == b"A"
        assert (folder / "b").is_symlink() if existing == "dangling symlink" else (folder / "b").read_bytes() == b"B"
