"""Removing an imported source from the inbox, and never anything else.

The source leaves its name in one rename to a hidden done- name (so a crash cannot leave half a
folder behind, and nothing can be saved over it any more), then it must hold exactly the files
that were read: same inode, size and mtime. A download saved over a file, a resumed download, or
a file added to or removed from a folder during the import puts the whole source back under its
name: it arrives again and is imported as what it now is. Only a source that passed is renamed
to a gone- name and deleted. A download tool's bookkeeping in a folder (bookkeeping.py) is not
compared and goes with it, unless a download is still running in it. After a crash, done- entries
are put back (they are re-imported as duplicates and then retired) and gone- entries are deleted.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import shutil
from pathlib import Path

from ..fs.durable import fsync_dir
from ..fs.linux import rename_noreplace
from ..fs.names import numbered
from .bookkeeping import downloads_in_progress, walk_content

log = logging.getLogger(__name__)

DONE_PREFIX = ".modelshelf-done-"      # being checked: put back after a crash
GONE_PREFIX = ".modelshelf-gone-"      # checked: deleted after a crash
_DONE_NAME = re.compile(re.escape(DONE_PREFIX) + r"[0-9a-f]+-(.+)", re.DOTALL)
FileKey = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns (not ctime: a rename changes it)
_NEVER_READ: FileKey = (0, 0, -1, 0)   # a file no import reads (a download still running)


class Retired(enum.Enum):
    REMOVED = "removed"
    CHANGED = "changed"     # put back under its name, to arrive again
    GONE = "gone"           # the user removed it first


def file_key(st: os.stat_result) -> FileKey:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def retire_source(source: Path, job_id: str, read: dict[str, FileKey], is_folder: bool) -> Retired:
    """Delete source if it still holds just the files in `read` (relative name → key; for a
    single file, its one key). On an error it is put back and the error raised."""
    done = source.with_name(_done_name(job_id, source.name))
    try:
        os.rename(source, done)
    except FileNotFoundError:
        log.info("%s was removed from the inbox during its import", source)
        return Retired.GONE
    try:
        fsync_dir(source.parent)
        now = _folder_keys(done) if is_folder else {name: file_key(os.lstat(done)) for name in read}
        if now != read:
            where = _put_back(done, source)
            log.warning("%s changed while it was imported (a file replaced, added, removed or written to); the "
                        "library keeps what was read, and %s stays in the inbox to be imported as it is now",
                        source, where.name)
            return Retired.CHANGED
        gone = source.with_name(f"{GONE_PREFIX}{job_id}")
        os.rename(done, gone)
    except BaseException:
        if os.path.lexists(done):
            _put_back(done, source)
        raise
    _delete(gone)
    fsync_dir(source.parent)
    return Retired.REMOVED


def _done_name(job_id: str, name: str) -> str:
    """The hidden name, keeping the original (shortened in the middle to fit 255 bytes) so that a
    crash can put it back where it was."""
    head = f"{DONE_PREFIX}{job_id}-"
    room = 255 - len(head.encode())
    encoded = os.fsencode(name)
    if len(encoded) > room:
        stem, suffix = os.path.splitext(encoded)
        encoded = stem[: room - len(suffix)] + suffix
    return head + os.fsdecode(encoded)


def _folder_keys(folder: Path) -> dict[str, FileKey]:
    """The folder's files, to compare with what the import read. A download tool's bookkeeping is
    not among them (it is deleted with the folder), but a download still running into it is a
    change. Looked for first: once renamed into place, the file is found by the second walk."""
    keys: dict[str, FileKey] = {os.fspath(rel): _NEVER_READ for rel in downloads_in_progress(folder)}
    for parent, dirnames, names in walk_content(folder):
        links = [d for d in dirnames if os.path.islink(os.path.join(parent, d))]  # walked as files
        for name in names + links:
            path = os.path.join(parent, name)
            keys[os.path.relpath(path, folder)] = file_key(os.lstat(path))
    return keys


def _put_back(done: Path, source: Path) -> Path:
    """Rename done back to the source's name, or beside it if a new entry took that name."""
    for candidate in numbered(source, keep_suffix=not done.is_dir()):
        try:
            rename_noreplace(done, candidate)
        except FileExistsError:
            continue
        fsync_dir(source.parent)
        return Path(candidate)
    raise AssertionError("numbered() never ends")


def _delete(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def recover_retired(inbox: Path) -> tuple[int, int]:
    """After a crash: put sources caught mid-check back (they arrive again and are retired as
    duplicates), delete those that had passed. Returns (put back, deleted)."""
    back = deleted = 0
    for leftover in inbox.iterdir():
        name = _DONE_NAME.fullmatch(leftover.name)
        if name:
            _put_back(leftover, inbox / name.group(1))
            back += 1
        elif leftover.name.startswith((GONE_PREFIX, DONE_PREFIX)):
            _delete(leftover)
            deleted += 1
    return back, deleted
