"""Removing an imported source from the inbox, and never anything else.

The source leaves its name in one rename to a hidden done- name (so a crash cannot leave half a
folder behind, and nothing can be renamed over it any more), then it must hold exactly the files
that were read, by inode. A download saved over a file, or a file added to or removed from a
folder during the import, puts the whole source back under its name: it arrives again and is
imported as what it now is. Only then is the hidden copy deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from ..fs.durable import fsync_dir
from ..fs.linux import rename_noreplace

log = logging.getLogger(__name__)

DONE_PREFIX = ".modelshelf-done-"
FileKey = tuple[int, int]  # (st_dev, st_ino)


def file_key(st: os.stat_result) -> FileKey:
    return st.st_dev, st.st_ino


def retire_source(source: Path, job_id: str, read: dict[str, FileKey], is_folder: bool) -> bool:
    """Delete source if it still holds just the files in `read` (relative name → key; for a
    single file, its one key). True if it was deleted."""
    done = source.with_name(f"{DONE_PREFIX}{job_id}")
    try:
        os.rename(source, done)
    except FileNotFoundError:
        log.info("%s was removed from the inbox during its import", source)
        return False
    fsync_dir(source.parent)
    now = _folder_keys(done) if is_folder else _file_keys(done, read)
    if now != read:
        where = _put_back(done, source)
        log.warning("%s changed while it was imported (a file replaced, added or removed); the library "
                    "keeps what was read, and %s stays in the inbox to be imported as it is now", source, where.name)
        return False
    if is_folder:
        shutil.rmtree(done, ignore_errors=True)
    else:
        os.unlink(done)
    fsync_dir(source.parent)
    return True


def _file_keys(path: Path, read: dict[str, FileKey]) -> dict[str, FileKey]:
    return {name: file_key(os.lstat(path)) for name in read}


def _folder_keys(folder: Path) -> dict[str, FileKey]:
    keys = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            keys[os.path.relpath(path, folder)] = file_key(os.lstat(path))
    return keys


def _put_back(done: Path, source: Path) -> Path:
    """Rename done back to the source's name, or beside it if a new entry took that name."""
    stem, suffix = (source.name, "") if done.is_dir() else (source.stem, source.suffix)
    candidates = [source] + [source.with_name(f"{stem} ({n}){suffix}") for n in range(2, 1000)]
    for candidate in candidates:
        try:
            rename_noreplace(done, candidate)
        except FileExistsError:
            continue
        fsync_dir(source.parent)
        return candidate
    raise FileExistsError(f"no free name beside {source} to put it back under; it is kept as {done}")


def clean_done_folders(inbox: Path) -> int:
    """Delete retired sources that a crash left under their hidden done- name."""
    count = 0
    for leftover in inbox.glob(f"{DONE_PREFIX}*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        count += 1
    return count
