"""metadata.json, schema v2: the source of truth for one model. The index is rebuilt from these.

Unknown fields (written by a newer modelshelf, or by hand) are kept on rewrite. v1 files (before
identification providers) are read as they are and written as v2 on their next rewrite: v2 adds
`identification` (each provider's answer, see identify/merge.py), `family_source`, `preview` and
the AutoV2 hash (the first 10 hex of the SHA-256, upper case, as A1111 and CivitAI show it).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import MetadataError
from ..fs.durable import atomic_write_bytes

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
METADATA_NAME = "metadata.json"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FileEntry:
    name: str   # relative to the model folder, "/"-separated
    size: int
    blake3: str
    sha256: str


@dataclass(frozen=True)
class Source:
    path: str
    mode: str   # copy | move | clone


@dataclass(frozen=True)
class ClassificationRecord:
    method: str
    confidence: float
    reason: str


@dataclass(frozen=True)
class ModelMetadata:
    model_id: str
    model_type: str
    family: str
    cleaned_name: str
    format: str
    files: tuple[FileEntry, ...]
    blake3: str             # the primary file's, or the folder manifest's for folder models
    sha256: str
    size_bytes: int
    added_at: str
    updated_at: str
    source: Source
    classification: ClassificationRecord
    primary_file: str | None = None
    official_name: str | None = None
    hub: Mapping[str, Any] | None = None
    pending_online_lookup: bool = True
    lookup_attempts: int = 0
    last_lookup_attempt: str | None = None
    tags: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)
    identification: Mapping[str, Any] | None = None       # provider -> its recorded answer (v2)
    family_source: str = "local"                           # "local", "civitai", "local+civitai", ... (v2)
    preview: str | None = None                             # "<stem>.preview.png" beside the model (v2)
    header_hashes: Mapping[str, str] = field(default_factory=dict)  # a trainer's own, from the header (v2)
    extra: Mapping[str, Any] = field(default_factory=dict)   # unknown fields, preserved

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        data.update(self.extra)
        for f in dataclasses.fields(self):
            if f.name in ("extra", "blake3", "sha256", "header_hashes"):
                continue
            data[f.name] = _plain(getattr(self, f.name))
        data["hashes"] = {"blake3": self.blake3, "sha256": self.sha256, "autov2": self.autov2,
                          **self.header_hashes}
        return data

    @property
    def autov2(self) -> str:
        return self.sha256[:10].upper()

    def replace(self, **changes: Any) -> ModelMetadata:
        return dataclasses.replace(self, **changes, updated_at=utc_now())


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


_OWN_HASHES = {"blake3", "sha256", "autov2"}     # the rest of "hashes" came from the file's header
_KNOWN = {f.name for f in dataclasses.fields(ModelMetadata)} | {"schema_version", "hashes"}


def metadata_from_dict(data: Any, path: Path) -> ModelMetadata:
    """Validate a parsed metadata.json; raise MetadataError naming the first problem."""
    if not isinstance(data, dict):
        raise MetadataError(path, "not a JSON object")
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise MetadataError(path, f"schema_version {version!r} is not supported (expected {SCHEMA_VERSION})")
    try:
        hashes = data["hashes"]
        files = tuple(FileEntry(str(f["name"]), int(f["size"]), str(f["blake3"]), str(f["sha256"]))
                      for f in data["files"])
        meta = ModelMetadata(
            model_id=str(data["model_id"]), model_type=str(data["model_type"]),
            family=str(data["family"]), cleaned_name=str(data["cleaned_name"]),
            format=str(data["format"]), files=files, blake3=str(hashes["blake3"]),
            sha256=str(hashes["sha256"]), size_bytes=int(data["size_bytes"]),
            added_at=str(data["added_at"]), updated_at=str(data["updated_at"]),
            source=Source(**data["source"]), classification=ClassificationRecord(**data["classification"]),
            primary_file=data.get("primary_file"), official_name=data.get("official_name"),
            hub=data.get("hub"), pending_online_lookup=bool(data.get("pending_online_lookup", True)),
            lookup_attempts=int(data.get("lookup_attempts", 0)),
            last_lookup_attempt=data.get("last_lookup_attempt"),
            tags=tuple(str(t) for t in data.get("tags", ())), details=dict(data.get("details") or {}),
            identification=_mapping(data.get("identification")), family_source=str(data.get("family_source", "local")),
            preview=data.get("preview"),
            header_hashes={str(k): str(v) for k, v in hashes.items() if k not in _OWN_HASHES},
            extra={k: v for k, v in data.items() if k not in _KNOWN})
    except (KeyError, TypeError, ValueError) as e:
        raise MetadataError(path, f"missing or invalid field ({type(e).__name__}: {e})") from None
    if not files:
        raise MetadataError(path, "lists no files")
    return meta


def _mapping(value: Any) -> Mapping[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise TypeError("identification is not an object")
    return value


def read_metadata(path: Path) -> ModelMetadata:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise MetadataError(path, f"cannot be read ({e.strerror})") from e
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MetadataError(path, f"is not valid JSON ({e})") from None
    return metadata_from_dict(data, path)


def encode_metadata(meta: ModelMetadata) -> bytes:
    return (json.dumps(meta.to_dict(), indent=2, ensure_ascii=False) + "\n").encode()


def write_metadata(folder: Path, meta: ModelMetadata) -> Path:
    """Write folder/metadata.json atomically (temp, fsync, rename, fsync folder)."""
    target = folder / METADATA_NAME
    atomic_write_bytes(target, encode_metadata(meta))
    return target
