"""Ollama blobs that are links to library files: no byte copied.

A blob's name is the SHA-256 of its whole content, which modelshelf already has for every file, so
the library file itself can stand at `blobs/sha256-<hex>`: a hardlink on the same filesystem (it
survives the library folder being renamed), else a symlink. Ollama opens blobs with os.Open and
os.Stat, which follow symlinks (server/images.go GetModel, routes.go HeadBlobHandler); it hashes a
blob only after a pull (images.go verifyBlob), and the bytes are the ones the name promises.
"""

from __future__ import annotations

import contextlib
import enum
import os
from pathlib import Path

from ..config import LinkPolicy
from ..fs.durable import fsync_dir
from .base import LinkKind
from .filelinks import make_link


class BlobState(enum.StrEnum):
    ABSENT = "absent"
    OURS = "ours"            # resolves to this library file (hardlink or symlink)
    FOREIGN = "foreign"      # a blob Ollama or the user put there (a pull of the same bytes)
    DANGLING = "dangling"    # a symlink to the library path that no longer resolves


def blob_state(blob: Path, source: Path) -> BlobState:
    if not os.path.lexists(blob):
        return BlobState.ABSENT
    try:
        if os.path.samefile(blob, source):
            return BlobState.OURS
    except OSError:
        if blob.is_symlink() and _points_to(blob, source):
            return BlobState.DANGLING
    return BlobState.FOREIGN


def _points_to(link: Path, source: Path) -> bool:
    target = Path(os.readlink(link))
    if not target.is_absolute():
        target = link.parent / target
    return os.path.normpath(target) == os.path.normpath(source)


def link_blob(blob: Path, source: Path, policy: LinkPolicy) -> LinkKind:
    """Make blob a link to source (absent, or a dangling link of ours, before the call).

    os.link / os.symlink create the name in one step: it is absent or complete, never partial.
    """
    blob.parent.mkdir(parents=True, exist_ok=True)
    if blob.is_symlink() and blob_state(blob, source) is BlobState.DANGLING:
        blob.unlink()
    kind = _choose(blob.parent, source, policy)
    make_link(kind, source, blob)
    fsync_dir(blob.parent)
    return kind


def _choose(folder: Path, source: Path, policy: LinkPolicy) -> LinkKind:
    # Not FileLinker's choice: on one filesystem a hardlink, so the `ollama` service user needs no
    # read access along the library's path (a symlink would need it).
    same_fs = os.stat(folder).st_dev == os.stat(source).st_dev
    if policy is LinkPolicy.HARDLINK or (policy is LinkPolicy.AUTO and same_fs):
        return LinkKind.HARDLINK   # on another filesystem os.link raises EXDEV: a clear error, nothing made
    return LinkKind.RELATIVE if policy is LinkPolicy.RELATIVE else LinkKind.ABSOLUTE


def remove_blob(blob: Path, source: Path) -> bool:
    """Remove blob only while it is still our link to source; True if it was removed."""
    if blob_state(blob, source) not in (BlobState.OURS, BlobState.DANGLING):
        return False
    if not blob.is_symlink() and os.stat(blob).st_nlink < 2:
        return False   # the library's own name is gone: this is the last name of the bytes, keep it
    with contextlib.suppress(FileNotFoundError):
        blob.unlink()
    fsync_dir(blob.parent)
    return True
