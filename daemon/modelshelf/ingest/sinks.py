"""The consumers of a streamed file: the two hashes and a destination writer that keeps the page
cache small (O_DIRECT, or writeback pushed behind the writer and the written pages dropped)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from dataclasses import dataclass

import blake3

from ..fs.durable import write_all
from ..fs.linux import (
    SYNC_FILE_RANGE_WAIT_AFTER,
    SYNC_FILE_RANGE_WAIT_BEFORE,
    SYNC_FILE_RANGE_WRITE,
    drop_cache,
    sync_file_range,
)
from .stream import ALIGNMENT


@dataclass(frozen=True)
class FileDigest:
    """What a single pass over a file established: its length and both hashes (hex)."""

    size: int
    blake3: str
    sha256: str


class HashSink:
    """Feeds one hashlib-style hasher; the work is done with the GIL released."""

    def __init__(self, hasher) -> None:  # hashlib._Hash or blake3.blake3
        self.hasher = hasher

    def consume(self, data: memoryview, offset: int) -> None:
        self.hasher.update(data)

    def finish(self) -> None:
        pass

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


def hash_sinks() -> tuple[HashSink, HashSink]:
    """A (BLAKE3, SHA-256) pair of sinks for one file."""
    return HashSink(blake3.blake3()), HashSink(hashlib.sha256())


class FileWriterSink:
    """Writes chunks to fd at their offsets and fsyncs at the end.

    With O_DIRECT the page cache is bypassed (aligned body; O_DIRECT is cleared for the unaligned
    tail). Without it, writeback of each chunk is started at once and the chunk `window` places
    behind is waited for and dropped from the cache: dirty pages stay bounded, so the writer never
    stalls on a writeback storm and the user's working set is left alone (measured in TESTLAB).
    """

    def __init__(self, fd: int, *, direct: bool, window: int = 2, path: os.PathLike | None = None) -> None:
        self.fd = fd
        self.direct = direct
        self.path = path      # named in write errors: which drive failed, the source's or this one
        self._window = window
        self._behind: list[tuple[int, int]] = []

    def consume(self, data: memoryview, offset: int) -> None:
        try:
            if self.direct:
                self._write_direct(data, offset)
            else:
                self._write_buffered(data, offset)
        except OSError as e:
            self._name_in(e)
            raise

    def _name_in(self, error: OSError) -> None:
        if error.filename is None and self.path is not None:
            error.filename = os.fspath(self.path)

    def _write_direct(self, data: memoryview, offset: int) -> None:
        body = len(data) - len(data) % ALIGNMENT
        try:
            if body:
                write_all(self.fd, data[:body], offset)
        except OSError as e:
            if e.errno != errno.EINVAL or offset != 0:
                raise
            self._leave_direct()  # the filesystem accepted the flag but not the I/O
            self._write_buffered(data, offset)
            return
        if body < len(data):
            self._leave_direct()
            write_all(self.fd, data[body:], offset + body)

    def _leave_direct(self) -> None:
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)
        self.direct = False

    def _write_buffered(self, data: memoryview, offset: int) -> None:
        write_all(self.fd, data, offset)
        sync_file_range(self.fd, offset, len(data), SYNC_FILE_RANGE_WRITE)
        self._behind.append((offset, len(data)))
        if len(self._behind) > self._window:
            self._settle(*self._behind.pop(0))

    def _settle(self, offset: int, length: int) -> None:
        sync_file_range(self.fd, offset, length, SYNC_FILE_RANGE_WAIT_BEFORE
                        | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)
        drop_cache(self.fd, offset, length)

    def finish(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as e:
            self._name_in(e)
            raise
        for offset, length in self._behind:
            drop_cache(self.fd, offset, length)
        self._behind.clear()
