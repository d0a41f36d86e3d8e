"""Names that are safe on every filesystem a library may live on (NTFS and exFAT included)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import PurePath

_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
MAX_NAME_BYTES = 255


def safe_name(name: str, fallback: str = "model") -> str:
    """Replace NTFS-forbidden characters, avoid reserved device names, trailing dots and spaces,
    and keep the name within 255 UTF-8 bytes (the extension is kept when shortening)."""
    # Names that are not valid UTF-8 reach Python as surrogate escapes: NTFS refuses those too.
    name = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    name = _FORBIDDEN.sub("_", name).strip().rstrip(". ")
    if not name or name in {".", ".."}:
        name = fallback
    if name.split(".")[0].upper() in _RESERVED:
        name = "_" + name
    return _shorten(name)


def fit_name(name: str, suffix: str = "", spare: int = 0) -> str:
    """name + suffix within 255 bytes (less `spare`, for what mkstemp adds), the name cut at a
    character: for the files modelshelf writes beside a user's (a failure note, a temp file)."""
    budget = MAX_NAME_BYTES - spare - len(suffix.encode("utf-8", "surrogateescape"))
    while len(name.encode("utf-8", "surrogateescape")) > budget:
        name = name[:-1]
    return name + suffix


def _shorten(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_NAME_BYTES - len(suffix.encode())
    return stem.encode()[:budget].decode("utf-8", "ignore").rstrip(". ") + suffix


def numbered(path: PurePath, keep_suffix: bool = True) -> Iterator[PurePath]:
    """path, then "name (2).ext", "name (3).ext"…: the names to try when path is taken (a folder's
    name is numbered whole: keep_suffix=False)."""
    stem, suffix = (path.stem, path.suffix) if keep_suffix else (path.name, "")
    yield path
    for n in itertools.count(2):
        yield path.with_name(f"{stem} ({n}){suffix}")
