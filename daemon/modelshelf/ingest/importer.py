"""The importer: one model (file or folder) from anywhere into the library, verified.

Order of events, each durable before the next:
  stage (origin.json) → transfer + hash → metadata.json → fsync → one rename into place
  → fsync parents → index → (move) verify and remove the source.
A crash before the rename leaves only staging (cleaned at start-up, renamed sources returned);
a crash after it leaves a complete model, and the source at worst still in place.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from ..classify import Probe
from ..config import ImportConfig, ImportMode
from ..errors import ImportFailedError, ModelshelfError
from ..fs.durable import fsync_dir
from ..fs.linux import rename_noreplace
from ..index.writer import LibraryWriter
from ..library.metadata import (
    METADATA_NAME,
    ClassificationRecord,
    FileEntry,
    ModelMetadata,
    Source,
    read_metadata,
    utc_now,
    write_metadata,
)
from ..library.root import Library
from .plan import ImportPlan, PlannedFile, plan_import
from .retire import Retired, file_key, retire_source
from .sinks import FileDigest
from .staging import StagedJob, restore_sources, stage_job
from .transfer import StreamSettings, TransferMethod, Transferred, copy_file, hash_file, link_file, reads_back

log = logging.getLogger(__name__)


class ImportOutcome(enum.StrEnum):
    IMPORTED = "imported"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class ImportJob:
    source: Path
    mode: ImportMode
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass(frozen=True)
class ImportProgress:
    job_id: str
    source: Path
    phase: str          # "copying", "hashing", "verifying"
    done_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class ImportResult:
    job_id: str
    source: Path
    outcome: ImportOutcome
    model_id: str
    path: str                  # model folder relative to the library root
    model_type: str
    family: str
    size_bytes: int
    method: str                # how the bytes arrived: copy, clone, link, rename
    seconds: float
    source_removed: bool
    source_changed: bool = False   # it changed under the import: put back to arrive again


ProgressListener = Callable[[ImportProgress], None]


def settings_from_config(cfg: ImportConfig) -> StreamSettings:
    return StreamSettings(buffer_size=cfg.buffer_mib << 20, buffers=cfg.buffers,
                          direct_write=cfg.direct_io, reflink=cfg.reflink,
                          reserve_bytes=cfg.reserve_mib << 20)


def _tree_digest(files: dict[str, FileDigest]) -> tuple[str, str]:
    """The hashes of a folder model: over the sorted (name, size, file hash) manifest."""
    b3, sha = blake3.blake3(), hashlib.sha256()
    for name in sorted(files):
        d = files[name]
        b3.update(f"{name}\0{d.size}\0{d.blake3}\n".encode())
        sha.update(f"{name}\0{d.size}\0{d.sha256}\n".encode())
    return b3.hexdigest(), sha.hexdigest()


class _DuplicateFound(Exception):
    def __init__(self, model_id: str, path: str, unindexed: ModelMetadata | None = None) -> None:
        self.model_id, self.path, self.unindexed = model_id, path, unindexed


class Importer:
    """Runs import jobs against one library and index. Thread-safe: the commit step goes through
    the library's one writer."""

    def __init__(self, writer: LibraryWriter, config: ImportConfig,
                 on_progress: ProgressListener | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.writer = writer
        self.library, self.index = writer.library, writer.index
        self.configure(config)
        self._on_progress = on_progress
        self._cancel = cancel
        self._since_checkpoint = 0

    def configure(self, config: ImportConfig) -> None:
        """New [import] settings (a reload): jobs that start from now on use them."""
        self.config, self.settings = config, settings_from_config(config)

    def run(self, job: ImportJob) -> ImportResult:
        """Import job.source; raise a ModelshelfError (source untouched) if it cannot be done."""
        started = time.monotonic()
        plan = plan_import(job.source, follow_symlinks=job.mode is ImportMode.COPY)
        if self.library.contains(job.source):
            raise ImportFailedError(job.source, "importing", "it is already inside the library")
        origins = {f.name: f.source for f in plan.files}
        try:
            staged = stage_job(self.library, job.job_id, origins)
        except OSError as e:
            StagedJob(self.library.staging / job.job_id).discard()
            raise ImportFailedError(job.source, "importing", e) from e
        try:
            arrived = self._transfer(job, plan, staged)
            result = self._commit(job, plan, staged, arrived, started)
        except BaseException as e:
            for source, problem in restore_sources(staged, origins):
                log.error("import %s: %s", job.job_id, problem or f"returned {source}")
            staged.discard()
            if isinstance(e, ModelshelfError) or not isinstance(e, OSError):   # SourceChangedError is one
                raise
            raise ImportFailedError(job.source, "importing", e) from e
        staged.discard()
        return result

    def commit_staged(self, job: ImportJob, plan: ImportPlan, staged: StagedJob,
                      arrived: dict[str, Transferred]) -> ImportResult:
        """Commit files another caller brought into staging and hashed (adoption): metadata,
        one rename into place, the index; or a DUPLICATE result naming the existing model. The
        caller owns the staged job (discards it) and the sources (job.mode COPY: never removed)."""
        return self._commit(job, plan, staged, arrived, time.monotonic())

    # -- transfer ----------------------------------------------------------------------------
    def _transfer(self, job: ImportJob, plan: ImportPlan, staged: StagedJob) -> dict[str, Transferred]:
        done = 0
        arrived: dict[str, Transferred] = {}
        for f in plan.files:
            dest = staged.payload / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            progress = self._progress_for(job, plan.total_bytes, done)
            arrived[f.name] = self._transfer_one(job.mode, f, dest, progress)
            done += f.size
        return arrived

    def _transfer_one(self, mode: ImportMode, f: PlannedFile, dest: Path,
                      progress: Callable[[str, int], None]) -> Transferred:
        if mode is ImportMode.MOVE:
            try:
                method = link_file(f.source, dest)
            except OSError as e:
                if e.errno != errno.EXDEV:  # another filesystem or bind mount: copy, verify, delete
                    raise
            else:
                digest = hash_file(dest, self.settings, lambda n: progress("hashing", n), self._cancel)
                return Transferred(digest, method, file_key(os.lstat(dest)))   # the source's own inode
        tmp = dest.with_name(dest.name + ".tmp")
        moved = copy_file(f.source, tmp, self.settings, lambda n: progress("copying", n), self._cancel)
        rename_noreplace(tmp, dest)            # never over another file of the same model
        return moved

    def _progress_for(self, job: ImportJob, total: int, base: int) -> Callable[[str, int], None]:
        listener = self._on_progress

        def report(phase: str, done: int) -> None:
            if listener is not None:
                listener(ImportProgress(job.job_id, job.source, phase, base + done, total))
        return report

    # -- commit ------------------------------------------------------------------------------
    def _commit(self, job: ImportJob, plan: ImportPlan, staged: StagedJob,
                arrived: dict[str, Transferred], started: float) -> ImportResult:
        digests = {name: t.digest for name, t in arrived.items()}
        if plan.is_folder:
            content_b3, content_sha = _tree_digest(digests)
        else:
            only = next(iter(digests.values()))
            content_b3, content_sha = only.blake3, only.sha256
        methods = {t.method for t in arrived.values()}
        method = next(iter(methods)) if len(methods) == 1 else TransferMethod.COPY
        for folder in sorted({(staged.payload / name).parent for name in arrived}, reverse=True):
            fsync_dir(folder)  # every new name, in subfolders too, is durable before the commit
        with self.writer.exclusive():
            try:
                existing = self.index.by_blake3(content_b3)
                if existing is not None:
                    raise _DuplicateFound(existing.model_id, existing.path)
                meta = self._metadata(job, plan, digests, content_b3, content_sha, method)
                write_metadata(staged.payload, meta)
                final = self._place(staged, meta)
                rel = self.library.relative(final)
                self.index.upsert(meta, rel)
            except _DuplicateFound as dup:
                if dup.unindexed is not None:   # on disk but not in the index (a crash before its commit)
                    self.index.upsert(dup.unindexed, dup.path)
                return self._duplicate(job, plan, arrived, dup, started)
            self._count_import()
        log.info("imported %s as %s (%s/%s, %s)", job.source, rel, meta.model_type, meta.family, method)
        fate = self._remove_sources(job, plan, arrived, final)
        return ImportResult(job.job_id, job.source, ImportOutcome.IMPORTED, meta.model_id, rel,
                            meta.model_type, meta.family, meta.size_bytes, method.value,
                            time.monotonic() - started, fate is Retired.REMOVED, fate is Retired.CHANGED)

    def _metadata(self, job: ImportJob, plan: ImportPlan, digests: dict[str, FileDigest],
                  content_b3: str, content_sha: str, method: TransferMethod) -> ModelMetadata:
        probe: Probe = plan.probe
        cls = probe.classification
        now = utc_now()
        files = tuple(FileEntry(name, d.size, d.blake3, d.sha256) for name, d in sorted(digests.items()))
        return ModelMetadata(
            model_id=content_b3[:16], model_type=cls.model_type.value, family=cls.family,
            cleaned_name=plan.cleaned_name, format=probe.format.value, files=files,
            blake3=content_b3, sha256=content_sha, size_bytes=plan.total_bytes, added_at=now,
            updated_at=now, source=Source(readable_path(job.source.absolute()), job.mode.value),
            classification=ClassificationRecord(cls.method.value, cls.confidence, cls.reason),
            primary_file=plan.primary_file, official_name=probe.official_name,
            details=dict(probe.details), header_hashes=probe.hashes.as_dict())

    def _place(self, staged: StagedJob, meta: ModelMetadata) -> Path:
        """Rename the payload to its model folder; a taken name with other content gets a hash suffix."""
        base = self.library.model_dir(meta.model_type, meta.family, meta.cleaned_name)
        for candidate in (base, base.with_name(f"{base.name}-{meta.blake3[:8]}")):
            _make_dirs(candidate.parent, self.library.root)
            # The dirty-path journal: if a crash comes between the rename and the index commit,
            # start-up indexes the placed model (upsert clears the mark in the commit itself).
            rel = self.library.relative(candidate)
            self.index.mark_dirty(rel)
            try:
                rename_noreplace(staged.payload, candidate)
            except OSError as e:
                self.index.mark_clean(rel)          # not placed: the folder is someone else's
                if not isinstance(e, FileExistsError) and e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                _raise_if_same_content(candidate, meta.blake3, self.library)
                continue
            fsync_dir(candidate.parent)
            return candidate
        raise ImportFailedError(staged.folder, "placing", f"both {base} and its hashed name are taken")

    def _duplicate(self, job: ImportJob, plan: ImportPlan, arrived: dict[str, Transferred],
                   dup: _DuplicateFound, started: float) -> ImportResult:
        fate = None
        if job.mode is ImportMode.MOVE:  # the content is verified equal: the source can go
            existing = self.library.folder(dup.path)
            fate = self._remove_sources(job, plan, arrived, existing, verify=False)
        log.info("%s is a duplicate of %s (%s): not stored again", job.source, dup.path, dup.model_id)
        return ImportResult(job.job_id, job.source, ImportOutcome.DUPLICATE, dup.model_id, dup.path,
                            "", "", plan.total_bytes, "none", time.monotonic() - started,
                            fate is Retired.REMOVED, fate is Retired.CHANGED)

    def _count_import(self) -> None:
        self._since_checkpoint += 1
        if self._since_checkpoint >= self.config.checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        self.index.checkpoint()
        self._since_checkpoint = 0

    # -- after the commit ---------------------------------------------------------------------
    def _remove_sources(self, job: ImportJob, plan: ImportPlan, arrived: dict[str, Transferred],
                        final: Path, verify: bool = True) -> Retired | None:
        """After the commit: the model is in the library whatever happens here, so a source that
        cannot be removed is kept and reported, never an import failure. None: nothing to remove."""
        if job.mode is not ImportMode.MOVE or self.library.contains(job.source):
            return None
        if verify:
            self._verify_copies(job, plan, arrived, final)
        read = {_name_in_source(plan, f): t.source for f in plan.files
                if (t := arrived[f.name]).method is not TransferMethod.RENAME}  # renamed: already gone
        if not read and not plan.is_folder:
            return Retired.REMOVED
        try:
            return retire_source(plan.source, job.job_id, read, plan.is_folder)
        except OSError as e:
            log.error("imported %s, but could not remove it from the inbox (%s); it stays there",
                      readable_path(plan.source), e)
            return None

    def _verify_copies(self, job: ImportJob, plan: ImportPlan, arrived: dict[str, Transferred],
                       final: Path) -> None:
        """Before a copied source is deleted, its library copy must read back with the same hash."""
        for f in plan.files:
            if not reads_back(final / f.name, arrived[f.name], self.settings):
                raise ImportFailedError(job.source, "verifying the copy of",
                                        f"{final / f.name} reads back with another hash; the "
                                        "source is kept. Check the library's disk")


def _name_in_source(plan: ImportPlan, f: PlannedFile) -> str:
    """A file's name inside the source as it is on disk (the library name may be made safe)."""
    return os.path.relpath(f.source, plan.source) if plan.is_folder else f.name


def _raise_if_same_content(folder: Path, blake3_hex: str, library: Library) -> None:
    try:
        existing = read_metadata(folder / METADATA_NAME)
    except ModelshelfError:
        return
    if existing.blake3 == blake3_hex:
        raise _DuplicateFound(existing.model_id, library.relative(folder), existing)


def _make_dirs(folder: Path, stop: Path) -> None:
    """mkdir -p, fsyncing the parent of every folder created so the new names survive a crash."""
    missing = []
    while not folder.exists() and folder != stop:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            created.mkdir()
        fsync_dir(created.parent)


def readable_path(path: Path) -> str:
    """A path as text even when it is not valid UTF-8 (shown as \\xe9 escapes)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
