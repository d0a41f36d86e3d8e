"""fs/durable.py: a write lands whole or not at all. The order of system calls that makes it
durable (fsync the file, rename, fsync the folder) is read from strace, and failures are real
ones: a full tmpfs, an fsync the kernel fails (strace fault injection), a folder in the way."""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.fs.durable import atomic_write_bytes, fsync_dir, write_all

from ..mounts import tmpfs


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "d").mkdir()
    return tmp_path / "d"


def test_replaces_by_rename_with_the_mode_asked(folder: Path) -> None:
    target = folder / "marker.json"
    target.write_bytes(b"old")
    os.link(target, folder / "alias")
    old_umask = os.umask(0o077)                  # the mode is set explicitly, not left to the umask
    try:
        atomic_write_bytes(target, b"new" * 1000, mode=0o640)
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new" * 1000
    assert (folder / "alias").read_bytes() == b"old"     # a new inode: readers never see half a file
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    atomic_write_bytes(target, b"")
    assert target.read_bytes() == b"" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in folder.iterdir()) == ["alias", "marker.json"]


def test_a_failure_leaves_no_temp_and_the_old_file(folder: Path) -> None:
    (folder / "target").mkdir()                  # rename over a non-empty folder fails
    (folder / "target" / "keep").write_bytes(b"k")
    with pytest.raises(OSError) as caught:
        atomic_write_bytes(folder / "target", b"data")
    assert caught.value.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST)
    assert sorted(p.name for p in folder.iterdir()) == ["target"]
    assert (folder / "target" / "keep").read_bytes() == b"k"
    with pytest.raises(TypeError):
        atomic_write_bytes(folder / "x", "not bytes")   # type: ignore[arg-type]
    assert sorted(p.name for p in folder.iterdir()) == ["target"]


@pytest.mark.fault
def test_a_full_drive_keeps_the_old_content(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", size="64k") as where:
        target = where / "metadata.json"
        target.write_bytes(b'{"old": true}')
        with pytest.raises(OSError) as caught:
            atomic_write_bytes(target, os.urandom(1 << 20))
        assert caught.value.errno == errno.ENOSPC
        assert target.read_bytes() == b'{"old": true}'
        assert [p.name for p in where.iterdir()] == ["metadata.json"]


def _strace(tmp_path: Path, code: str, *options: str) -> tuple[subprocess.CompletedProcess, str]:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    log = tmp_path / "strace.log"
    proc = subprocess.run(["strace", "-f", "-qq", "-o", str(log), *options, sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60)
    if "PTRACE_TRACEME" in proc.stderr or "Operation not permitted" in proc.stderr:
        pytest.skip(f"ptrace is not allowed here: {proc.stderr.strip()}")
    return proc, log.read_text()


WRITE = ("import sys; from pathlib import Path; from modelshelf.fs.durable import atomic_write_bytes; "
         "atomic_write_bytes(Path(sys.argv[1]) if len(sys.argv) > 1 else Path({target!r}), b'payload')")


def test_syscall_order_makes_it_durable(tmp_path: Path, folder: Path) -> None:
    target = folder / "metadata.json"
    proc, log = _strace(tmp_path, WRITE.format(target=str(target)),
                        "-e", "trace=openat,write,fchmod,fsync,fdatasync,rename,renameat,renameat2,close")
    assert proc.returncode == 0, proc.stderr
    lines = log.splitlines()
    opened = next(i for i, line in enumerate(lines)
                  if f'"{folder}/.metadata.json.' in line and "O_CREAT|O_EXCL" in line)
    tmp_fd = re.search(r"= (\d+)$", lines[opened]).group(1)
    after = [re.sub(r"^\d+ +", "", line) for line in lines[opened + 1:]]

    def at(pattern: str, start: int = 0) -> int:     # fd numbers are reused: search from start
        return next(i for i, line in enumerate(after) if i >= start and re.match(pattern, line))

    write, chmod, fsync = at(rf"write\({tmp_fd}, \"payload\""), at(rf"fchmod\({tmp_fd}, 0644"), \
        at(rf"fsync\({tmp_fd}\)")
    rename = at(rf"rename(at2?)?\(.*\.metadata\.json\..*\.tmp\".*\"{re.escape(str(target))}\"")
    dir_open = at(rf"openat\(.*\"{re.escape(str(folder))}\", O_RDONLY[^)]*O_DIRECTORY")
    dir_fd = re.search(r"= (\d+)$", after[dir_open]).group(1)
    dir_fsync = at(rf"fsync\({dir_fd}\)", dir_open)
    assert write < chmod < fsync < rename < dir_open < dir_fsync, "\n".join(after)
    assert target.read_bytes() == b"payload"


@pytest.mark.fault
def test_a_failed_fsync_never_renames(tmp_path: Path, folder: Path) -> None:
    target = folder / "metadata.json"
    target.write_bytes(b"old")
    proc, log = _strace(tmp_path, WRITE.format(target=str(target)), "-e", "trace=fsync",
                        "-e", "inject=fsync:error=EIO:when=1")
    assert "INJECTED" in log
    assert proc.returncode == 1 and "OSError: [Errno 5] Input/output error" in proc.stderr
    assert target.read_bytes() == b"old"
    assert [p.name for p in folder.iterdir()] == ["metadata.json"]     # the temp was removed


def test_write_all_writes_everything_at_an_offset(folder: Path) -> None:
    fd = os.open(folder / "f", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        write_all(fd, b"a" * 10)
        write_all(fd, memoryview(b"BB"), offset=4)
        write_all(fd, b"tail")                    # pwrite did not move the file position
    finally:
        os.close(fd)
    assert (folder / "f").read_bytes() == b"aaaaBBaaaatail"


def test_fsync_dir_on_real_folders(folder: Path) -> None:
    fsync_dir(folder)
    fsync_dir(str(folder))
    (folder / "file").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        fsync_dir(folder / "file")
    with pytest.raises(FileNotFoundError):
        fsync_dir(folder / "missing")
