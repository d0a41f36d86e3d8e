"""`<inbox>/failed/`: where a file that could not be imported goes, with a note saying why and
what to do. Moving it back into the inbox retries it."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from ..errors import ModelshelfError, NoSpaceError, NotAModelError, TruncatedModelError
from ..fs.durable import atomic_write_bytes, fsync_dir
from .ignore import FAILED_FOLDER


def remedy_for(error: ModelshelfError | str) -> str:
    text = str(error)
    if isinstance(error, TruncatedModelError) or "truncated" in text:
        return "The download is incomplete. Download the file again and drop the complete file in the inbox."
    if isinstance(error, NoSpaceError) or "No space left on device" in text:
        return ("The library's drive is full (no free space, or no free inodes: see `df -h` and `df -i`). "
                "Free some (or move the library), then move the file back.")
    if "Read-only file system" in text:
        return ("The library's drive is mounted read-only (an NTFS drive that was not cleanly unmounted is "
                "mounted so: check it, e.g. with ntfsfix, and mount it again). Once it is writable, move "
                "the file back.")
    if isinstance(error, NotAModelError):
        return ("modelshelf imports .safetensors, .gguf, .ckpt, .pt, .pth and .bin files and diffusers "
                "folders. If this is not a model, delete it; if it is, check that it is not damaged.")
    return "Fix the cause above, then move the file back into the inbox to retry."


def move_to_failed(source: Path, inbox: Path, error: ModelshelfError | str) -> Path:
    """Move source into inbox/failed/ (never overwriting) and write <name>.error.txt beside it."""
    folder = inbox / FAILED_FOLDER
    folder.mkdir(exist_ok=True)
    target = folder / source.name
    n = 2
    while os.path.lexists(target) or os.path.lexists(f"{target}.error.txt"):
        target = folder / f"{source.stem} ({n}){source.suffix}"
        n += 1
    os.rename(source, target)
    fsync_dir(folder)
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    note = (f"modelshelf could not import {source.name} ({when}).\n\n"
            f"What went wrong:\n  {error}\n\nWhat to do:\n  {remedy_for(error)}\n"
            f"  To retry, move {target.name} back into {inbox}.\n")
    atomic_write_bytes(Path(f"{target}.error.txt"), note.encode())
    return target
