"""What a download tool or version control keeps for itself: never a model to adopt.

TO BE REPLACED by `modelshelf.ingest.bookkeeping.is_tool_bookkeeping` (branch misc10), which
has this signature and rule: at the merge, import it in scan.py and delete this module.
"""

from __future__ import annotations

from pathlib import PurePath

# Folder name sequences, matched at any depth: huggingface_hub's local-dir cache (and its 0.23
# name), git (with Git LFS objects: the weights a second time), Mercurial, Subversion.
_BOOKKEEPING_DIRS = ((".cache", "huggingface"), (".huggingface",), (".git",), (".hg",), (".svn",))


def is_tool_bookkeeping(rel: PurePath) -> bool:
    """True if a path relative to an install (or a model folder) is, or is inside, bookkeeping."""
    parts = rel.parts
    return any(parts[i:i + len(d)] == d for i in range(len(parts)) for d in _BOOKKEEPING_DIRS)
