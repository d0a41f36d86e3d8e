"""Replace an app's file by a link to its library copy in one rename over its name.

The link is made under a temporary name in the same folder and made durable first, so the
app's name always leads to complete bytes: the original file until the rename, the verified
library copy after it. The journal is told before each step (see recover.py).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from ..apps import LinkKind
from ..apps.filelinks import make_link
from ..errors import SourceChangedError
from ..fs.durable import fsync_dir
from ..ingest.retire import FileKey, file_key

TEMP_PREFIX = ".modelshelf-adopt-"


def temp_name(app_file: Path) -> Path:
    return app_file.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}-{app_file.name}"[:255])


def same_inode(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.lstat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def swap_in_link(app_file: Path, library_file: Path, kind: LinkKind, expected: FileKey, temp: Path,
                 on_linked: Callable[[], None] = lambda: None) -> os.stat_result:
    """Make `temp` a link of `kind` to library_file, fsync, then rename it over app_file if
    app_file is still the file `expected` describes. Returns the replaced file's lstat (taken
    just before the rename: its st_nlink and st_blocks tell what the rename freed).
    Raises SourceChangedError (temp removed, app file untouched) if it changed."""
    folder = app_file.parent
    make_link(kind, library_file, temp)
    try:
        fsync_dir(folder)
        on_linked()
        before = os.lstat(app_file)
        if file_key(before) != expected:
            raise SourceChangedError(0, f"{app_file} changed while it was adopted")
        os.rename(temp, app_file)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_dir(folder)
    return before
