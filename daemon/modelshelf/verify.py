"""Re-hash a model's files and compare with its metadata.json (like `git annex fsck`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from .errors import MetadataError
from .ingest import StreamSettings, hash_file
from .library.metadata import METADATA_NAME, read_metadata


class FileState(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    CHANGED = "changed"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FileCheck:
    name: str
    state: FileState
    detail: str = ""


@dataclass(frozen=True)
class ModelCheck:
    path: str
    files: tuple[FileCheck, ...]

    @property
    def ok(self) -> bool:
        return all(f.state is FileState.OK for f in self.files)


def verify_model(folder: Path, rel: str, settings: StreamSettings) -> ModelCheck:
    try:
        meta = read_metadata(folder / METADATA_NAME)
    except MetadataError as e:
        return ModelCheck(rel, (FileCheck(METADATA_NAME, FileState.UNREADABLE, str(e)),))
    checks = []
    for entry in meta.files:
        path = folder / entry.name
        try:
            digest = hash_file(path, settings)
        except FileNotFoundError:
            checks.append(FileCheck(entry.name, FileState.MISSING, "listed in metadata.json but gone"))
            continue
        except OSError as e:
            checks.append(FileCheck(entry.name, FileState.UNREADABLE, e.strerror or str(e)))
            continue
        if (digest.blake3, digest.sha256, digest.size) != (entry.blake3, entry.sha256, entry.size):
            checks.append(FileCheck(entry.name, FileState.CHANGED,
                                    f"blake3 {digest.blake3[:12]}… differs from {entry.blake3[:12]}…"))
        else:
            checks.append(FileCheck(entry.name, FileState.OK))
    return ModelCheck(rel, tuple(checks))
