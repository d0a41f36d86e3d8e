"""One read of a file feeds several consumers at once (hashers, a writer), each on its own thread.

The reader fills a small ring of page-aligned buffers; every chunk goes to each sink's queue in
order and returns to the ring when the last sink is done with it. hashlib and blake3 release the
GIL on large updates and os.pwrite releases it too, so SHA-256, BLAKE3 and the disk all run at
once: the import takes as long as the slowest of them, not their sum.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import queue
import stat
import threading
import traceback
from collections.abc import Callable, Sequence
from typing import Protocol

from ..errors import SourceChangedError
from ..fs.linux import drop_cache

ProgressCallback = Callable[[int], None]
ALIGNMENT = 4096


class Sink(Protocol):
    """A consumer of a file's bytes, called from its own thread, chunks in file order."""

    def consume(self, data: memoryview, offset: int) -> None: ...

    def finish(self) -> None: ...



class _Chunk:
    """A filled buffer shared by all sinks; it goes back to the ring when the last one is done."""

    __slots__ = ("buffer", "length", "offset", "_pending", "_lock", "_done")

    def __init__(self, buffer: mmap.mmap, length: int, offset: int, sinks: int,
                 done: Callable[[_Chunk], None]) -> None:
        self.buffer, self.length, self.offset = buffer, length, offset
        self._pending = sinks
        self._lock = threading.Lock()
        self._done = done

    def release(self) -> None:
        with self._lock:
            self._pending -= 1
            last = self._pending == 0
        if last:
            self._done(self)


class _SinkThread:
    """Runs one sink; on error it records it and keeps draining so the reader never blocks."""

    def __init__(self, sink: Sink, failed: threading.Event, name: str) -> None:
        self.sink = sink
        self.queue: queue.SimpleQueue[_Chunk | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._failed = failed
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while (chunk := self.queue.get()) is not None:
            try:
                if self.error is None:
                    self.sink.consume(memoryview(chunk.buffer)[: chunk.length], chunk.offset)
            except BaseException as e:  # handed to the reader thread, which re-raises it
                # The traceback's frames hold views of the ring buffer: drop their locals so the
                # buffers can be unmapped (the traceback itself stays readable).
                traceback.clear_frames(e.__traceback__)
                self.error = e
                self._failed.set()
            finally:
                chunk.release()
        if self.error is None:
            try:
                self.sink.finish()
            except BaseException as e:
                self.error = e


def open_for_reading(path: str | os.PathLike, direct: bool = False) -> tuple[int, bool]:
    """Open for one sequential pass. With direct, use O_DIRECT where the filesystem allows it
    (tmpfs and some FUSE mounts refuse it); otherwise the pages read are dropped behind the
    reader. Returns (fd, whether O_DIRECT is on). Anything but a regular file is refused with
    EINVAL: O_NONBLOCK keeps a FIFO in the file's place from blocking the open for ever (regular
    files ignore the flag)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
    fd, on = -1, False
    if direct:
        try:
            fd, on = os.open(path, flags | os.O_DIRECT), True
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
    if fd < 0:
        fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
    return fd, on


def _read_full(fd: int, view: memoryview, offset: int) -> int:
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            break
        got += n
        if got % ALIGNMENT:  # a short, unaligned read is the end of the file (O_DIRECT or not)
            break
    return got


def stream_file(fd: int, sinks: Sequence[Sink], *, expected_size: int, buffer_size: int,
                buffers: int, direct: bool = False, on_progress: ProgressCallback | None = None,
                cancel: threading.Event | None = None) -> int:
    """Read fd once from offset 0, handing every chunk to each sink. Returns the bytes read.

    Raises the first sink error, SourceChangedError if the file's length is not expected_size,
    or InterruptedError when cancel is set.
    """
    if buffer_size % ALIGNMENT:
        raise ValueError(f"buffer_size must be a multiple of {ALIGNMENT}")
    failed = threading.Event()
    workers = [_SinkThread(s, failed, f"sink-{type(s).__name__}") for s in sinks]
    ring: queue.SimpleQueue[mmap.mmap] = queue.SimpleQueue()
    pool = [mmap.mmap(-1, buffer_size) for _ in range(buffers)]
    for b in pool:
        ring.put(b)

    def recycle(chunk: _Chunk) -> None:
        if not direct:
            drop_cache(fd, chunk.offset, chunk.length)
        ring.put(chunk.buffer)

    for w in workers:
        w.thread.start()
    offset = 0
    try:
        while not failed.is_set():
            if cancel is not None and cancel.is_set():
                raise InterruptedError(errno.EINTR, "import cancelled")
            buffer = ring.get()
            length = _read_full(fd, memoryview(buffer), offset)
            if length == 0:
                ring.put(buffer)
                break
            chunk = _Chunk(buffer, length, offset, len(workers), recycle)
            for w in workers:
                w.queue.put(chunk)
            offset += length
            if on_progress is not None:
                on_progress(offset)
            if length < buffer_size:
                break
    finally:
        for w in workers:
            w.queue.put(None)
        for w in workers:
            w.thread.join()
        for b in pool:
            with contextlib.suppress(BufferError):  # a view still held by an unwinding frame
                b.close()
    for w in workers:
        if w.error is not None:
            raise w.error
    if offset != expected_size or os.fstat(fd).st_size != expected_size:
        raise SourceChangedError(errno.EIO, f"file changed size while reading: expected "
                                 f"{expected_size} bytes, read {offset}")
    return offset
