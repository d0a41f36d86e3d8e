"""Deep scan: read every metadata.json in the library and rebuild the index from them.

Problems are collected as warnings and the scan carries on. Paths never leave the library: a
metadata.json naming `../x` or an absolute path is reported, and symlinks are not followed.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import LibraryOfflineError, MetadataError
from ..library.metadata import METADATA_NAME, ModelMetadata, read_metadata
from ..library.root import MARKER_NAME, Library
from .db import ModelIndex


@dataclass(frozen=True)
class ScanWarning:
    path: str      # relative to the library root
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class ScanReport:
    records: tuple[tuple[ModelMetadata, str], ...]
    warnings: tuple[ScanWarning, ...]
    folders_seen: int


def _safe_relative(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def _check_files(folder: Path, meta: ModelMetadata) -> str | None:
    for entry in meta.files:
        if not _safe_relative(entry.name):
            return f"file name {entry.name!r} points outside the model folder: not indexed"
        try:
            st = os.lstat(folder / entry.name)
        except FileNotFoundError:
            return f"phantom: {entry.name} is listed but missing: not indexed"
        except OSError as e:
            return f"{entry.name} cannot be read ({e.strerror}): not indexed"
        if not stat.S_ISREG(st.st_mode):
            return f"{entry.name} is not a regular file (a symlink?): not indexed"
        if st.st_size != entry.size:
            return f"{entry.name} is {st.st_size} bytes, metadata says {entry.size}: run `modelshelf verify`"
    return None


def scan_library(library: Library) -> ScanReport:
    """Find every model folder (one holding metadata.json) below the root, hidden folders aside."""
    if not (library.root / MARKER_NAME).is_file():
        raise LibraryOfflineError(library.root, "its marker disappeared during the scan")
    records: list[tuple[ModelMetadata, str]] = []
    warnings: list[ScanWarning] = []
    seen_blake3: dict[str, str] = {}
    folders = 0
    stack = [library.root]
    while stack:
        folder = stack.pop()
        folders += 1
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            warnings.append(ScanWarning(library.relative(folder) or ".", f"cannot list ({e.strerror})"))
            continue
        names = {e.name for e in entries}
        if METADATA_NAME in names and folder != library.root:
            _read_model(library, folder, records, warnings, seen_blake3)
            continue
        stack.extend(Path(e.path) for e in reversed(entries)
                     if not e.name.startswith(".") and e.is_dir(follow_symlinks=False))
    return ScanReport(tuple(records), tuple(warnings), folders)


def _read_model(library: Library, folder: Path, records: list, warnings: list,
                seen_blake3: dict[str, str]) -> None:
    rel = library.relative(folder)
    try:
        meta = read_metadata(folder / METADATA_NAME)
    except MetadataError as e:
        warnings.append(ScanWarning(rel, f"{METADATA_NAME} {str(e).split(': ', 1)[-1]}: not indexed"))
        return
    problem = _check_files(folder, meta)
    if problem:
        warnings.append(ScanWarning(rel, problem))
        return
    if meta.blake3 in seen_blake3:
        warnings.append(ScanWarning(rel, f"same content as {seen_blake3[meta.blake3]}: not indexed "
                                    "(delete one copy)"))
        return
    seen_blake3[meta.blake3] = rel
    records.append((meta, rel))


def rebuild_index(library: Library, index: ModelIndex) -> ScanReport:
    """Deep scan, then replace the index in one transaction (nothing is wiped if the scan fails)."""
    report = scan_library(library)
    index.replace_all(report.records)
    index.set_meta("library_id", library.library_id)
    index.checkpoint()
    return report
