"""The library folder: its marker (present vs. drive not mounted), layout, and staging area."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import LibraryLockedError, LibraryOfflineError
from ..fs.durable import atomic_write_bytes
from ..fs.names import safe_name
from ..fs.paths import real_within
from .metadata import utc_now

MARKER_NAME = ".modelshelf-library"
STAGING_NAME = ".modelshelf-tmp"
LIBRARY_LOCK_NAME = ".modelshelf-lock"


@dataclass(frozen=True)
class Library:
    """An opened library root: the marker was found, so its contents can be trusted."""

    root: Path
    library_id: str

    @property
    def staging(self) -> Path:
        return self.root / STAGING_NAME

    def model_dir(self, model_type: str, family: str, name: str) -> Path:
        return self.root / safe_name(model_type) / safe_name(family) / safe_name(name)

    def folder(self, rel: str) -> Path:
        """A model folder (or file) named relative to the root, as the index stores it."""
        return self.root / rel

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def contains(self, path: Path) -> bool:
        """True if path (resolved) lies inside the library."""
        return real_within(path, self.root)


def open_library(root: Path, *, may_create: bool) -> Library:
    """Open root. Create it (with its marker) only when may_create and it is missing or empty;
    otherwise a missing marker means an unmounted or wrong folder: LibraryOfflineError."""
    marker = root / MARKER_NAME
    try:
        return Library(root, _read_marker(marker))
    except LibraryOfflineError:
        raise                     # a damaged marker: not the same as none (it is a FileNotFoundError too)
    except FileNotFoundError:
        pass
    if not root.exists() and not may_create:
        raise LibraryOfflineError(root, "the folder does not exist")
    if may_create and (not root.exists() or not any(root.iterdir())):
        root.mkdir(parents=True, exist_ok=True)
        library_id = uuid.uuid4().hex
        atomic_write_bytes(marker, json.dumps({"library_id": library_id, "created_at": utc_now()}).encode())
        return Library(root, library_id)
    raise LibraryOfflineError(root, f"it has no {MARKER_NAME} marker (a drive that is not mounted, "
                              "or a folder that is not a modelshelf library)")


def _read_marker(marker: Path) -> str:
    try:
        data = json.loads(marker.read_bytes())
        return str(data["library_id"])
    except (ValueError, KeyError, TypeError) as e:
        raise LibraryOfflineError(marker.parent, f"its marker {marker} is damaged ({e})") from None


class WriterLock:
    """An exclusive lock: one process writes to a library (and its index) at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, purpose: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EACCES):
                raise LibraryLockedError(f"the library is busy: {holder} holds {self.path}; wait for "
                                         "it to finish, or use the running daemon") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"modelshelf {purpose} (pid {os.getpid()})".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
