"""Linux system calls the os module does not expose (through ctypes), each with a portable fallback."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

SYNC_FILE_RANGE_WAIT_BEFORE = 1
SYNC_FILE_RANGE_WRITE = 2
SYNC_FILE_RANGE_WAIT_AFTER = 4
_FICLONE = 0x40049409
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100

_sync_file_range = getattr(_libc, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    _sync_file_range.restype = ctypes.c_int

_renameat2 = getattr(_libc, "renameat2", None)
if _renameat2 is not None:
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    _renameat2.restype = ctypes.c_int


def sync_file_range(fd: int, offset: int, length: int, flags: int) -> None:
    """Start (or wait for) writeback of a byte range; a no-op where the call is missing."""
    if _sync_file_range is None:
        return
    if _sync_file_range(fd, offset, length, flags) != 0:
        err = ctypes.get_errno()
        # Some filesystems (FUSE, old kernels) refuse it; writeback then happens at fsync.
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ESPIPE):
            raise OSError(err, os.strerror(err))


def drop_cache(fd: int, offset: int, length: int) -> None:
    """Tell the kernel these pages will not be needed again (keeps the page cache for the user)."""
    try:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass


def clone_file(src_fd: int, dst_fd: int) -> bool:
    """Reflink src into dst (FICLONE). False where the filesystem cannot share extents."""
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS,
                       errno.EPERM, errno.EBADF):
            return False
        raise
    return True


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """rename() that fails with FileExistsError instead of replacing dst (even an empty folder)."""
    if _renameat2 is not None:
        if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), os.fsdecode(src), None, os.fsdecode(dst))
    # Filesystems without RENAME_NOREPLACE (some FUSE): check, then rename. A narrow race
    # remains there; every caller also holds the library's commit lock.
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fsdecode(dst))
    os.rename(src, dst)
