"""Folders that belong to a download tool or a version-control system, not to the user's models.

TO BE REPLACED by `modelshelf.ingest.bookkeeping` (branch misc10) when it lands: the same
question, asked in one place for the inbox and for adoption.
"""

from __future__ import annotations

from pathlib import PurePath

_VCS = frozenset({".git", ".hg", ".svn"})
_HUB = frozenset({".huggingface"})


def is_bookkeeping(folder: PurePath) -> bool:
    """True for .git/, .hg/, .svn/, .huggingface/ and .cache/huggingface/ (the Hub's download
    cache keeps blobs there under hash names, with locks and partial downloads)."""
    name = folder.name
    if name in _VCS or name in _HUB:
        return True
    if name == "huggingface":
        return folder.parent.name == ".cache"
    return name == ".cache" and (folder / "huggingface").is_dir()
