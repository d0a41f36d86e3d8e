"""Is this path inside that folder? One answer for the whole package.

Textual, on absolute paths as given: callers resolve first (os.path.realpath) where links matter.
Faster than PurePath.is_relative_to in the loops that call it (mount tables, registries), and
right at "/" and with trailing slashes, where a hand-written startswith(prefix + "/") is not.
"""

from __future__ import annotations

import os


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """True if path is folder itself or lies below it."""
    p, f = os.fspath(path), os.fspath(folder).rstrip("/") or "/"
    return p == f or p.startswith(f if f == "/" else f + "/")


def real_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """is_within after resolving both (symlinks, '..')."""
    return is_within(os.path.realpath(path), os.path.realpath(folder))
