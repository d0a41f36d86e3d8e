"""Bring one file's bytes into the staging area and learn both hashes, in a single pass.

Strategies, fastest first: a hardlink (move on one filesystem: no bytes move), a reflink clone
(copy on xfs/btrfs: no bytes written), and a streamed copy. Every strategy ends with the bytes
hashed from the file that will live in the library or from the very buffers written to it.
"""

from __future__ import annotations

import enum
import errno
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import NoSpaceError, SourceChangedError
from ..fs.linux import clone_file
from .retire import FileKey, file_key
from .sinks import FileDigest, FileWriterSink, hash_sinks
from .stream import ProgressCallback, open_for_reading, stream_file


class TransferMethod(enum.StrEnum):
    COPY = "copy"
    CLONE = "clone"
    LINK = "link"
    RENAME = "rename"


@dataclass(frozen=True)
class StreamSettings:
    buffer_size: int = 8 << 20
    buffers: int = 4
    direct_write: bool = True
    direct_read: bool = False
    reflink: bool = True
    reserve_bytes: int = 256 << 20


@dataclass(frozen=True)
class Transferred:
    digest: FileDigest
    method: TransferMethod
    source: FileKey     # the file that was read: only it may later be removed from the inbox


def hash_file(path: Path, settings: StreamSettings, on_progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> FileDigest:
    """BLAKE3 and SHA-256 of a file in one read."""
    fd, direct = open_for_reading(path, settings.direct_read)
    try:
        before = os.fstat(fd)
        b3, sha = hash_sinks()
        stream_file(fd, [b3, sha], expected_size=before.st_size, buffer_size=settings.buffer_size,
                    buffers=settings.buffers, direct=direct, on_progress=on_progress, cancel=cancel)
        if file_key(os.fstat(fd)) != file_key(before):
            raise SourceChangedError(errno.EIO, f"{path} was modified while it was hashed")
        return FileDigest(before.st_size, b3.hexdigest(), sha.hexdigest())
    finally:
        os.close(fd)


def check_free_space(source: Path, folder: Path, needed: int, reserve: int) -> None:
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    if free - reserve < needed:
        raise NoSpaceError(source, folder, needed, free, reserve)


def copy_file(source: Path, dest: Path, settings: StreamSettings,
              on_progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None) -> Transferred:
    """Copy source to dest (which must not exist), clone if possible, fsync it, hash it."""
    src_fd, direct_read = open_for_reading(source, settings.direct_read)
    try:
        before = os.fstat(src_fd)
        read = file_key(before)
        if settings.reflink and _try_clone(src_fd, dest):
            digest = hash_file(dest, settings, on_progress, cancel)
            _check_unchanged(source, read, "cloned")
            return Transferred(digest, TransferMethod.CLONE, read)
        check_free_space(source, dest.parent, before.st_size, settings.reserve_bytes)
        digest = _stream_copy(src_fd, direct_read, before.st_size, dest, settings, on_progress, cancel)
        _check_unchanged(source, read, "copied")
        return Transferred(digest, TransferMethod.COPY, read)
    finally:
        os.close(src_fd)


def reads_back(dest: Path, t: Transferred, settings: StreamSettings, on_progress: ProgressCallback | None = None,
               cancel: threading.Event | None = None) -> bool:
    """True if a transferred file reads back with the hash it was written with. Only a streamed
    copy is read again: a clone or a link was hashed from the destination itself."""
    if t.method is not TransferMethod.COPY:
        return True
    return hash_file(dest, settings, on_progress, cancel).blake3 == t.digest.blake3


def _check_unchanged(source: Path, read: FileKey, done: str) -> None:
    """The source's name must still lead to the file read, as it was: the open descriptor reads
    the old file to the end even after its name is deleted or renamed over, and the copy must not
    be imported in its place (a move would then delete the new file)."""
    try:
        now = file_key(os.stat(source))     # copy mode may import through a symlink: what it leads to
    except FileNotFoundError:
        raise SourceChangedError(errno.ENOENT, f"{source} was deleted while it was {done}") from None
    if now[:2] != read[:2]:
        raise SourceChangedError(errno.EIO, f"{source} was replaced by another file while it was {done}")
    if now != read:
        raise SourceChangedError(errno.EIO, f"{source} was modified while it was {done}")


def _try_clone(src_fd: int, dest: Path) -> bool:
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        cloned = clone_file(src_fd, fd)
        if cloned:
            os.fsync(fd)
    finally:
        os.close(fd)
    if not cloned:
        os.unlink(dest)
    return cloned


def _stream_copy(src_fd: int, direct_read: bool, size: int, dest: Path, settings: StreamSettings,
                 on_progress: ProgressCallback | None, cancel: threading.Event | None) -> FileDigest:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    direct_write = settings.direct_write
    try:
        dst_fd = os.open(dest, flags | (os.O_DIRECT if direct_write else 0), 0o644)
    except OSError as e:
        if not direct_write or e.errno != errno.EINVAL:
            raise
        direct_write = False  # tmpfs and some FUSE filesystems refuse O_DIRECT
        dst_fd = os.open(dest, flags, 0o644)
    try:
        b3, sha = hash_sinks()
        writer = FileWriterSink(dst_fd, direct=direct_write, path=dest)
        stream_file(src_fd, [b3, sha, writer], expected_size=size, buffer_size=settings.buffer_size,
                    buffers=settings.buffers, direct=direct_read, on_progress=on_progress,
                    cancel=cancel)
        return FileDigest(size, b3.hexdigest(), sha.hexdigest())
    finally:
        os.close(dst_fd)


def link_file(source: Path, dest: Path) -> TransferMethod:
    """Give source a second name in the library (same filesystem). The source keeps its own name
    until the import is committed, so a crash at any point loses nothing. Falls back to rename
    where hardlinks are not supported; raises OSError(EXDEV) across filesystems."""
    try:
        os.link(source, dest, follow_symlinks=False)
        return TransferMethod.LINK
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            raise
    os.rename(source, dest)
    return TransferMethod.RENAME
