"""Durable file operations: every write lands whole or not at all (temp, fsync, rename, fsync dir)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .names import fit_name


def fsync_dir(path: str | os.PathLike) -> None:
    """Make a rename or create inside this folder durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview, offset: int | None = None) -> None:
    """os.write may write fewer bytes than asked: loop until all of data is written."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        view = view[n:]
        if offset is not None:
            offset += n


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace path with data atomically: temp in the same folder, fsync, rename, fsync folder."""
    # mkstemp adds 8 random characters between prefix and suffix.
    fd, tmp = tempfile.mkstemp(prefix=fit_name(f".{path.name}", ".", spare=12), suffix=".tmp", dir=path.parent)
    try:
        write_all(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
        tmp = ""
        fsync_dir(path.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
