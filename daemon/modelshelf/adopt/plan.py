"""The plan: for every model found, new to the library, a duplicate of a model, or skipped with
the reason; and the bytes the run gives back. Nothing is written.

Only contents that could be duplicates are hashed here (a size shared with another file of the
run or of the library, a file with several names, a folder model); each inode is read once, and
the digest is kept for the run, so no file is read twice.
"""

from __future__ import annotations

import collections
import enum
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceChangedError
from ..index import ModelIndex
from ..ingest import FileDigest, StreamSettings, hash_file
from ..ingest.importer import _tree_digest  # the importer's own folder hash: a duplicate matches it exactly
from ..ingest.retire import file_key
from ..library import Library
from .openfiles import open_for_writing
from .scan import AppFile, Found, ScanResult, Skipped, SkipReason

HashProgress = Callable[[Path, int, int], None]     # path, bytes done, bytes of the file


class Decision(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    SKIP = "skip"


@dataclass(frozen=True)
class PlannedModel:
    found: Found
    decision: Decision
    digests: tuple[FileDigest | None, ...] = ()      # per file, when hashed here
    content: str | None = None                        # the model's BLAKE3, when hashed here
    duplicate_of: str | None = None                   # model id: in the library, or added by this run
    reason: SkipReason | None = None
    detail: str = ""
    gives_back: int = 0                               # bytes of blocks freed once it is a link


@dataclass(frozen=True)
class AdoptPlan:
    models: tuple[PlannedModel, ...]
    skipped: tuple[Skipped, ...]

    @property
    def gives_back(self) -> int:
        return sum(m.gives_back for m in self.models)

    def count(self, decision: Decision) -> int:
        return sum(m.decision is decision for m in self.models)


@dataclass(frozen=True)
class LibraryFile:
    model_id: str
    rel: str           # relative to the library root
    size: int
    blake3: str


def library_files(index: ModelIndex) -> list[LibraryFile]:
    rows = index.query("SELECT m.model_id, m.path, f.name, f.size, f.blake3 FROM files f "
                       "JOIN models m USING (model_id)")
    return [LibraryFile(r["model_id"], f"{r['path']}/{r['name']}", r["size"], r["blake3"]) for r in rows]


class Planner:
    """Builds an AdoptPlan from a scan. `hash_progress` sees every byte read; `cancel` stops it."""

    def __init__(self, library: Library, index: ModelIndex, settings: StreamSettings,
                 hash_progress: HashProgress | None = None, cancel: threading.Event | None = None,
                 check_folder: Callable[[Path], None] | None = None) -> None:
        self.library, self.index, self.settings = library, index, settings
        self._progress, self._cancel = hash_progress, cancel
        self._check_folder = check_folder or (lambda folder: None)
        self._digests: dict[tuple[int, int], FileDigest] = {}
        self._folders: dict[Path, str | None] = {}

    def plan(self, result: ScanResult) -> AdoptPlan:
        files = [f for found in result.found for f in found.files]
        names = collections.Counter(f.inode for f in files)
        sizes = collections.Counter(f.size for f in {f.inode: f for f in files}.values())
        lib = library_files(self.index)
        lib_sizes = {f.size for f in lib}
        lib_inodes = self._library_inodes(lib, {f.size for f in files})
        writing = open_for_writing(names)
        seen: dict[str, str] = {}                  # content -> model id it becomes in this run
        planned: list[PlannedModel] = []
        for found in result.found:
            hashed = found.import_plan.is_folder or any(
                sizes[f.size] > 1 or f.size in lib_sizes or names[f.inode] > 1 for f in found.files)
            planned.append(self._decide(found, hashed, writing, lib_inodes, seen))
        return AdoptPlan(self._with_space(planned, names), result.skipped)

    def _library_inodes(self, lib: list[LibraryFile], sizes: set[int]) -> set[tuple[int, int]]:
        inodes = set()
        for f in lib:
            if f.size in sizes:
                try:
                    st = os.stat(self.library.root / f.rel)
                except OSError:
                    continue
                inodes.add((st.st_dev, st.st_ino))
        return inodes

    def _decide(self, found: Found, hashed: bool, writing: set, lib_inodes: set, seen: dict[str, str]) -> PlannedModel:
        if busy := [f for f in found.files if f.inode in writing]:
            return PlannedModel(found, Decision.SKIP, reason=SkipReason.OPEN_FOR_WRITING, detail=str(busy[0].path))
        if problem := next(filter(None, (self._folder_problem(f.path.parent) for f in found.files)), None):
            return PlannedModel(found, Decision.SKIP, reason=SkipReason.READ_ONLY, detail=problem)
        # A name of a library file (an adoption cut short after its commit): hashed, it is a
        # duplicate of that model and becomes the app's kind of link like any other.
        shares = any(f.inode in lib_inodes for f in found.files)
        if not hashed and not shares:
            return PlannedModel(found, Decision.NEW)
        try:
            digests = tuple(self.digest(f) for f in found.files)
        except SourceChangedError as e:
            return PlannedModel(found, Decision.SKIP, reason=SkipReason.CHANGED, detail=e.strerror or str(e))
        except InterruptedError:
            return PlannedModel(found, Decision.SKIP, reason=SkipReason.CANCELLED, detail="the run was stopped")
        except OSError as e:
            return PlannedModel(found, Decision.SKIP, reason=SkipReason.UNREADABLE,
                                detail=f"{e.strerror} ({e.filename})")
        content = (_tree_digest({f.name: d for f, d in zip(found.files, digests, strict=True)})[0]
                   if found.import_plan.is_folder else digests[0].blake3)
        existing = self.index.by_blake3(content)
        if existing is not None:
            return PlannedModel(found, Decision.DUPLICATE, digests, content, existing.model_id)
        if shares:
            return PlannedModel(found, Decision.SKIP, digests, content, reason=SkipReason.LIBRARY_FILE,
                                detail="it no longer matches the hash of the library file it shares its inode "
                                       "with: run `modelshelf verify`")
        if content in seen:
            return PlannedModel(found, Decision.DUPLICATE, digests, content, seen[content])
        seen[content] = content[:16]
        return PlannedModel(found, Decision.NEW, digests, content)

    def _folder_problem(self, folder: Path) -> str | None:
        """Why no link can replace a file in this folder (read-only mount, no permission), or None."""
        if folder not in self._folders:
            try:
                self._check_folder(folder)
                self._folders[folder] = None
            except OSError as e:
                self._folders[folder] = e.strerror or str(e)
        return self._folders[folder]

    def digest(self, f: AppFile) -> FileDigest:
        """Both hashes of an app file, read in place once per inode; SourceChangedError if it is
        not the file the scan saw (size, mtime or inode differ before or after the read)."""
        if f.inode not in self._digests:
            self._check(f)
            progress = self._progress
            digest = hash_file(f.path, self.settings,
                               (lambda n: progress(f.path, n, f.size)) if progress else None, self._cancel)
            self._check(f)
            self._digests[f.inode] = digest
        return self._digests[f.inode]

    def _check(self, f: AppFile) -> None:
        if file_key(os.lstat(f.path)) != f.key:
            raise SourceChangedError(0, f"{f.path} changed since it was scanned")

    @staticmethod
    def _with_space(planned: list[PlannedModel], names: collections.Counter) -> tuple[PlannedModel, ...]:
        """A duplicate's inode is freed when every name it has is one this run replaces by a link
        and none of them becomes the library's copy."""
        kept = {f.inode for m in planned if m.decision is not Decision.DUPLICATE for f in m.found.files}
        counted: set[tuple[int, int]] = set()
        out = []
        for m in planned:
            freed = 0
            if m.decision is Decision.DUPLICATE:
                for f in m.found.files:
                    if not f.is_link and f.inode not in kept and f.inode not in counted and f.nlink == names[f.inode]:
                        counted.add(f.inode)
                        freed += f.blocks
            out.append(m if not freed else PlannedModel(m.found, m.decision, m.digests, m.content,
                                                        m.duplicate_of, m.reason, m.detail, freed))
        return tuple(out)
