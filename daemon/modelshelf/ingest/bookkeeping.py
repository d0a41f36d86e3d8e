"""What a download tool or version control keeps for itself inside a model folder.

None of it is model content: it never enters the library, and it leaves the inbox with the folder.
- huggingface_hub's local-dir downloads (`snapshot_download(local_dir=...)`, `hf download
  --local-dir`) keep `.cache/huggingface/` at the folder's root: `.gitignore`, `CACHEDIR.TAG`,
  `download/<file>.lock` and `.metadata`, `trees/<commit>.json`, and while a file downloads
  `download/<hash>.<etag>[.<id>].incomplete`, renamed to the file's place when complete
  (huggingface_hub `_local_folder.py`, `_tree_cache.py`, `file_download.py`). The 0.23.0 release
  kept the same under `.huggingface/` (renamed by huggingface_hub PR #2262).
- `git clone` keeps `.git/` (a submodule or worktree has a `.git` file), with Git LFS objects under
  `.git/lfs/objects/OID[0:2]/OID[2:4]/OID`: the weights a second time (git-lfs docs/spec.md).
  Mercurial and Subversion keep `.hg/` and `.svn/`.
Repository files such as `.gitattributes` or `.gitignore` at the model's root are content: they
are what the repository holds, not what a tool keeps about it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePath

# Folder name sequences, matched at any depth (a clone can sit inside a dropped folder).
_HF_LOCAL_DIRS = ((".cache", "huggingface"), (".huggingface",))
_BOOKKEEPING_DIRS = (*_HF_LOCAL_DIRS, (".git",), (".hg",), (".svn",))
_IN_PROGRESS_SUFFIX = ".incomplete"   # huggingface_hub's file being downloaded, never left on success


def _starts_at(parts: tuple[str, ...], dirs: tuple[tuple[str, ...], ...]) -> int | None:
    """Index of the first part where one of dirs begins, or None."""
    for i in range(len(parts)):
        if any(parts[i:i + len(d)] == d for d in dirs):
            return i
    return None


def is_tool_bookkeeping(rel: PurePath) -> bool:
    """True if a path relative to a model folder (or a folder dropped in the inbox) is, or is
    inside, what a download tool or version control keeps for itself."""
    return _starts_at(rel.parts, _BOOKKEEPING_DIRS) is not None


def is_download_in_progress(rel: PurePath) -> bool:
    """True if a path relative to a folder is a file huggingface_hub is still downloading into
    that folder (it exists only until the file is complete and renamed into place)."""
    return rel.name.endswith(_IN_PROGRESS_SUFFIX) and _starts_at(rel.parts, _HF_LOCAL_DIRS) is not None


def walk_content(folder: Path) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk(folder) without following symlinks, leaving out tool bookkeeping: the folders are
    not entered, the files not listed. dirnames may be pruned further by the caller, as with
    os.walk."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = PurePath(os.path.relpath(dirpath, folder))
        dirnames[:] = [d for d in dirnames if not is_tool_bookkeeping(here / d)]
        yield dirpath, dirnames, [f for f in filenames if not is_tool_bookkeeping(here / f)]


def downloads_in_progress(folder: Path) -> list[PurePath]:
    """Files a download tool is still writing inside folder's bookkeeping (relative paths)."""
    found: list[PurePath] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = PurePath(os.path.relpath(dirpath, folder))
        dirnames[:] = [d for d in dirnames if _may_hold_downloads(here / d)]
        found.extend(here / f for f in filenames if is_download_in_progress(here / f))
    return sorted(found)


def _may_hold_downloads(rel: PurePath) -> bool:
    """Content folders and huggingface_hub's bookkeeping; never a .git with its objects."""
    return not is_tool_bookkeeping(rel) or _starts_at(rel.parts, _HF_LOCAL_DIRS) is not None
