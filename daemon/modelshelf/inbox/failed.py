"""`<inbox>/failed/`: where a file that could not be imported goes, with a note saying why and
what to do. Moving it back into the inbox retries it."""

from __future__ import annotations

import errno
import os
from datetime import datetime
from pathlib import Path

from ..errors import (
    IncompleteDownloadError,
    LibraryOfflineError,
    ModelshelfError,
    NoSpaceError,
    NotAModelError,
    SourceChangedError,
    TruncatedModelError,
)
from ..fs.durable import atomic_write_bytes, fsync_dir
from ..fs.names import fit_name, numbered
from ..fs.paths import is_within
from .ignore import FAILED_FOLDER

_LIBRARY_CANNOT_TAKE_IT = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}


def waits_for_library(error: ModelshelfError, *places: Path) -> bool:
    """A full, read-only or unmounted drive of the library (or of the index: places) is not the
    file's fault: the file stays in the inbox and the next rescan retries it, instead of going to
    failed/ for the user to move back."""
    if isinstance(error, (NoSpaceError, LibraryOfflineError)):
        return True
    cause = getattr(error, "cause", None)
    if not isinstance(cause, OSError) or cause.errno not in _LIBRARY_CANNOT_TAKE_IT or cause.filename is None:
        return False
    return any(is_within(os.path.abspath(os.fsdecode(cause.filename)), place) for place in places)


def changed_under_import(error: ModelshelfError) -> bool:
    """The file was still being written, or replaced: it arrives again once it has settled."""
    return isinstance(getattr(error, "cause", None), SourceChangedError)


def remedy_for(error: ModelshelfError) -> str:
    if isinstance(error, (TruncatedModelError, IncompleteDownloadError)):
        return "The download is incomplete. Download the file again and drop the complete file in the inbox."
    if isinstance(error, NoSpaceError):
        return "Free space on the library's drive (or move the library), then move the file back."
    if isinstance(error, NotAModelError):
        return ("modelshelf imports .safetensors, .sft, .gguf, .ckpt, .pt, .pth and .bin files and diffusers "
                "folders. If this is not a model, delete it; if it is, check that it is not damaged.")
    return "Fix the cause above, then move the file back into the inbox to retry."


def move_to_failed(source: Path, inbox: Path, error: ModelshelfError) -> Path:
    """Move source into inbox/failed/ (never overwriting) and write <name>.error.txt beside it."""
    folder = inbox / FAILED_FOLDER
    folder.mkdir(exist_ok=True)
    target = next(t for t in numbered(folder / source.name)
                  if not os.path.lexists(t) and not os.path.lexists(note_for(t)))
    os.rename(source, target)
    fsync_dir(folder)
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    note = (f"modelshelf could not import {source.name} ({when}).\n\n"
            f"What went wrong:\n  {error}\n\nWhat to do:\n  {remedy_for(error)}\n"
            f"  To retry, move {target.name} back into {inbox}.\n")
    atomic_write_bytes(note_for(target), note.encode())
    return target


def note_for(failed: Path) -> Path:
    """The note beside a failed file: `<name>.error.txt`, its name cut to fit in 255 bytes."""
    return failed.with_name(fit_name(failed.name, ".error.txt"))
