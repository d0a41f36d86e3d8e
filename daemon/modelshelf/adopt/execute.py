"""Carry out an adoption plan, one model at a time, in a safe order:

  journal (planned) → into the library (same filesystem: a hardlink into staging, hashed in
  place; across: a copy with both hashes, read back and verified) → commit → journal (imported)
  → per app file: a link under a temp name, fsync → rename over the app's name, fsync →
  registry → journal row removed.

A duplicate (same BLAKE3 as a library model) skips the library step. Whatever fails leaves the
app's file as it is and is reported; nothing is ever deleted that the library does not hold.
"""

from __future__ import annotations

import enum
import errno
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..apps import LinkKind
from ..apps.filelinks import is_link_to
from ..config import ImportMode
from ..errors import ModelshelfError, NoSpaceError, SourceChangedError
from ..fs.linux import rename_noreplace
from ..index import ModelIndex
from ..ingest import FileDigest, Importer, ImportJob, StreamSettings, hash_file
from ..ingest.retire import file_key
from ..ingest.staging import stage_job
from ..ingest.transfer import TransferMethod, Transferred, check_free_space, copy_file, reads_back
from ..library import Library
from ..links.maintenance import execute_delete, plan_delete
from .applinks import AppLink, AppLinks
from .journal import AdoptJournal, Entry, Phase
from .plan import AdoptPlan, Decision, PlannedModel
from .scan import AppFile, Found, SkipReason
from .swap import same_inode, swap_in_link, temp_name

FileProgress = Callable[[str, Path, int], None]     # phase, file, bytes of it done


class Outcome(enum.StrEnum):
    ADOPTED = "adopted"        # the library now holds it; the app's name is a link to it
    LINKED = "linked"          # a duplicate: the app's name is a link to the existing model
    SKIPPED = "skipped"


@dataclass(frozen=True)
class FileResult:
    path: Path
    outcome: Outcome
    model_id: str | None = None
    library_file: str | None = None
    kind: str | None = None
    freed: int = 0             # bytes of blocks released by replacing it (its last name)
    added: int = 0             # bytes of blocks written: a copy across filesystems, the link
    reason: SkipReason | None = None
    detail: str = ""


@dataclass(frozen=True)
class InLibrary:
    """The model holding an app model's bytes, and how each app file's bytes got there (None:
    the library already had them)."""

    model_id: str
    arrived: dict[Path, tuple[FileDigest, TransferMethod | None]]


class _Skip(Exception):
    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror} ({e.filename})" if e.filename else e.strerror
    return str(e)


class Executor:
    def __init__(self, library: Library, index: ModelIndex, importer: Importer, links: AppLinks,
                 journal: AdoptJournal, settings: StreamSettings,
                 on_progress: FileProgress | None = None, cancel: threading.Event | None = None) -> None:
        self.library, self.index, self.importer, self.links = library, index, importer, links
        self.journal, self.settings = journal, settings
        self._progress = on_progress or (lambda phase, path, n: None)
        self._cancel = cancel
        self._library_dev = os.stat(library.root).st_dev

    def run(self, plan: AdoptPlan) -> list[FileResult]:
        results: list[FileResult] = []
        for pm in plan.models:
            if self._cancel is not None and self._cancel.is_set():
                results += _skipped(pm.found, SkipReason.CANCELLED, "the run was stopped")
            elif pm.decision is Decision.SKIP:
                results += _skipped(pm.found, pm.reason or SkipReason.FAILED, pm.detail)
            else:
                results += self.adopt(pm)
        return results

    def adopt(self, pm: PlannedModel) -> list[FileResult]:
        found = pm.found
        try:
            self._check_room(pm)           # before the canary links: a model that cannot come changes nothing
        except NoSpaceError as e:
            return _skipped(found, SkipReason.NO_SPACE, str(e))
        try:
            links = {f.path: self.links.link_for(found.install, f.path) for f in found.files}
        except OSError as e:
            return _skipped(found, SkipReason.READ_ONLY, _describe(e))
        try:
            held = self._in_library(pm)
        except _Skip as s:
            return _skipped(found, s.reason, s.detail)
        files = self._library_names(held.model_id)
        results = []
        for f in found.files:
            digest, method = held.arrived[f.path]
            results.append(self._replace(found, f, links[f.path], held.model_id, files[digest.blake3], method))
        linked_in = any(method is TransferMethod.LINK for _, method in held.arrived.values())
        if linked_in and all(r.reason is SkipReason.CHANGED for r in results):
            self._undo_import(held.model_id)
        return results

    def _undo_import(self, model_id: str) -> None:
        """The app wrote to its file after the import: the library's name of that same inode no
        longer holds the hashed bytes, so the model goes again (the app's file stays)."""
        with self.importer.writer.exclusive():
            model = self.index.get(model_id)
            if model is not None:
                execute_delete(plan_delete(model, self.library, self.links.registry), self.links.registry, self.index)

    # -- into the library ---------------------------------------------------------------------
    def _in_library(self, pm: PlannedModel) -> InLibrary:
        found = pm.found
        if pm.content is not None and (existing := self.index.by_blake3(pm.content)) is not None:
            return InLibrary(existing.model_id, {f.path: (d, None) for f, d in zip(found.files, pm.digests,
                                                                                   strict=True) if d is not None})
        try:
            return self._import(pm)
        except NoSpaceError as e:
            raise _Skip(SkipReason.NO_SPACE, str(e)) from None
        except SourceChangedError as e:
            raise _Skip(SkipReason.CHANGED, _describe(e)) from None
        except InterruptedError:
            raise _Skip(SkipReason.CANCELLED, "the run was stopped") from None
        except OSError as e:
            reason = SkipReason.NO_SPACE if e.errno == errno.ENOSPC else SkipReason.FAILED
            raise _Skip(reason, f"bringing {found.source} into the library: {_describe(e)}") from None
        except ModelshelfError as e:
            raise _Skip(SkipReason.FAILED, str(e)) from None

    def _import(self, pm: PlannedModel) -> InLibrary:
        found = pm.found
        job_id = f"adopt-{uuid.uuid4().hex[:12]}"
        for f in found.files:
            self.journal.record(self._entry(found, f, Phase.PLANNED))
        try:
            staged = stage_job(self.library, job_id, {f.name: f.path for f in found.files})
        except BaseException:
            self._forget(found)
            raise
        try:
            planned = pm.digests or (None,) * len(found.files)
            arrived = {}
            for f, digest in zip(found.files, planned, strict=True):
                dest = staged.payload / f.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                arrived[f.name] = self._bring(f, digest, dest)
            result = self.importer.commit_staged(ImportJob(found.source, ImportMode.COPY, job_id),
                                                 found.import_plan, staged, arrived)
        except BaseException:
            self._forget(found)    # not in the library: the app's files were never touched
            raise
        finally:
            staged.discard()
        for f in found.files:
            self.journal.record(self._entry(found, f, Phase.IMPORTED, result.model_id))
        imported = result.outcome == "imported"      # else another name of it got there first
        return InLibrary(result.model_id, {f.path: (arrived[f.name].digest, arrived[f.name].method if imported
                                                    else None) for f in found.files})

    def _check_room(self, pm: PlannedModel) -> None:
        """A model to be copied (another filesystem than the library's) must fit, reserve kept."""
        known = pm.content is not None and self.index.by_blake3(pm.content) is not None
        if not known and any(f.key[0] != self._library_dev for f in pm.found.files):
            check_free_space(pm.found.source, self.library.root, pm.found.size, self.settings.reserve_bytes)

    def _bring(self, f: AppFile, digest: FileDigest | None, dest: Path) -> Transferred:
        """The app file's bytes under dest in staging, with both hashes of exactly those bytes."""
        if f.is_link:
            raise ModelshelfError(f"{f.path} links into the library, but the model it belongs to is not there; "
                                  "run `modelshelf health`")
        try:
            os.link(f.path, dest, follow_symlinks=False)    # one filesystem: no byte written
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                raise
        else:
            if digest is None:
                digest = hash_file(dest, self.settings, lambda n: self._progress("hashing", f.path, n),
                                   self._cancel)
            _check_unchanged(f)    # the inode the digest was taken of, not written to since
            return Transferred(digest, TransferMethod.LINK, f.key)
        tmp = dest.with_name(dest.name + ".tmp")
        copied = copy_file(f.path, tmp, self.settings, lambda n: self._progress("copying", f.path, n),
                           self._cancel)
        if not reads_back(tmp, copied, self.settings, lambda n: self._progress("verifying", f.path, n),
                          self._cancel):
            raise ModelshelfError(f"the library's copy of {f.path} reads back with another hash; the app's "
                                  f"file is kept. Check the disk holding {self.library.root}")
        if digest is not None and digest.blake3 != copied.digest.blake3:
            raise SourceChangedError(0, f"{f.path} changed after it was hashed")
        _check_unchanged(f)
        rename_noreplace(tmp, dest)
        return copied

    def _library_names(self, model_id: str) -> dict[str, str]:
        """BLAKE3 -> the library file (relative to the root) holding those bytes."""
        model = self.index.get(model_id)
        if model is None:
            raise ModelshelfError(f"model {model_id} is not in the index")
        return {f.blake3: f"{model.path}/{f.name}" for f in self.index.files(model_id)}

    # -- the app's name -----------------------------------------------------------------------
    def _replace(self, found: Found, f: AppFile, link: AppLink, model_id: str, library_rel: str,
                 method: TransferMethod | None) -> FileResult:
        library_file = self.library.root / library_rel
        outcome = Outcome.LINKED if method is None else Outcome.ADOPTED
        copied = os.stat(library_file).st_blocks * 512 if method in (TransferMethod.COPY, TransferMethod.CLONE) else 0
        entry = self._entry(found, f, Phase.IMPORTED, model_id, library_rel, link.kind)
        done = FileResult(f.path, outcome, model_id, library_rel, link.kind.value)
        self._progress("linking", f.path, 0)
        try:
            if f.is_link and is_link_to(f.path, library_file):      # made by a run cut short
                self._register(found, link, model_id, library_rel)
                return done
            if link.kind is LinkKind.HARDLINK and same_inode(f.path, library_file):
                self._register(found, link, model_id, library_rel)   # already one inode
                return done
            entry = replace(entry, phase=Phase.LINKING, temp=temp_name(f.path))
            self.journal.record(entry)
            before = swap_in_link(f.path, library_file, link.kind, f.key, entry.temp,
                                  lambda: self.journal.record(replace(entry, phase=Phase.LINKED)))
            self.journal.record(replace(entry, phase=Phase.RENAMED))
            self._register(found, link, model_id, library_rel)
        except SourceChangedError as e:
            return FileResult(f.path, Outcome.SKIPPED, model_id, library_rel, reason=SkipReason.CHANGED,
                              detail=_describe(e))
        except OSError as e:
            return FileResult(f.path, Outcome.SKIPPED, model_id, library_rel, reason=SkipReason.FAILED,
                              detail=f"replacing it by a link to {library_file}: {_describe(e)}")
        finally:
            self.journal.done(f.path)
        freed = before.st_blocks * 512 if before.st_nlink == 1 else 0
        return replace(done, freed=freed, added=copied + os.lstat(f.path).st_blocks * 512)

    def _register(self, found: Found, link: AppLink, model_id: str, library_rel: str) -> None:
        with self.importer.writer.exclusive():   # registry.db has one writer at a time, like the index
            self.links.register(found.install, link, model_id, library_rel)

    def _entry(self, found: Found, f: AppFile, phase: Phase, model_id: str | None = None,
               library_rel: str | None = None, kind: LinkKind | None = None) -> Entry:
        return Entry(f.path, phase, str(found.install.root), f.path.relative_to(found.install.root).as_posix(),
                     f.key, model_id, library_rel, kind.value if kind else None, app=found.install.kind)

    def _forget(self, found: Found) -> None:
        for f in found.files:
            self.journal.done(f.path)


def _check_unchanged(f: AppFile) -> None:
    if file_key(os.lstat(f.path)) != f.key:
        raise SourceChangedError(0, f"{f.path} changed while it was adopted")


def _skipped(found: Found, reason: SkipReason, detail: str) -> list[FileResult]:
    return [FileResult(f.path, Outcome.SKIPPED, reason=reason, detail=detail) for f in found.files]
