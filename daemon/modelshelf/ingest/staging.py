"""The staging area inside the library: where an import is assembled before one rename puts it
in place. Every job writes origin.json first, naming where each staged file came from, so that
start-up recovery can return a renamed-away source to its folder; everything else staged is
simply deleted (the source still holds those bytes)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..fs.durable import atomic_write_bytes, fsync_dir
from ..library.root import Library

log = logging.getLogger(__name__)
ORIGIN_NAME = "origin.json"
PAYLOAD_NAME = "model"


@dataclass(frozen=True)
class StagedJob:
    folder: Path

    @property
    def payload(self) -> Path:
        """The folder that becomes the model folder."""
        return self.folder / PAYLOAD_NAME

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class RecoveryReport:
    jobs_removed: int
    sources_restored: tuple[str, ...]
    problems: tuple[str, ...]


def stage_job(library: Library, job_id: str, origins: dict[str, Path]) -> StagedJob:
    """Create the job's staging folder and durably record origins {staged relative name: source}."""
    library.staging.mkdir(exist_ok=True)
    job = StagedJob(library.staging / job_id)
    job.folder.mkdir()
    job.payload.mkdir()
    record = {name: os.fsdecode(src) for name, src in origins.items()}
    atomic_write_bytes(job.folder / ORIGIN_NAME, json.dumps(record).encode())
    fsync_dir(library.staging)
    return job


def restore_sources(job: StagedJob, origins: dict[str, str | Path]) -> list[tuple[str, str | None]]:
    """Rename back every staged file whose source name is gone (it was renamed in, not linked).
    Returns (source, problem or None) for each file it had to return."""
    results: list[tuple[str, str | None]] = []
    for name, source in origins.items():
        staged = job.payload / name
        if not staged.exists() or os.path.lexists(source):
            continue
        try:
            Path(source).parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, source)
            results.append((os.fsdecode(source), None))
        except OSError as e:
            results.append((os.fsdecode(source), f"could not return {staged} to {source} "
                            f"({e.strerror}); it is kept where it is"))
    return results


def recover_staging(library: Library) -> RecoveryReport:
    """Clean up after a crash: restore any source that was renamed into staging, delete the rest."""
    restored: list[str] = []
    problems: list[str] = []
    removed = 0
    if not library.staging.is_dir():
        return RecoveryReport(0, (), ())
    for job_folder in sorted(library.staging.iterdir()):
        job = StagedJob(job_folder)
        try:
            origins = json.loads((job.folder / ORIGIN_NAME).read_bytes())
        except (OSError, ValueError):
            origins = {}
        kept = False
        for source, problem in restore_sources(job, origins):
            if problem:
                kept = True
                problems.append(problem)
            else:
                restored.append(source)
        if not kept:
            job.discard()
            removed += 1
    with contextlib.suppress(OSError):
        fsync_dir(library.staging)
    for source in restored:
        log.warning("returned %s to its folder after an interrupted import", source)
    return RecoveryReport(removed, tuple(restored), tuple(problems))
