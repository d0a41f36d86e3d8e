"""models.db: a rebuildable cache of the library's metadata.json files.

One ModelIndex owns the connection (WAL, busy_timeout, synchronous=NORMAL) and is the only writer.
Rows are derived from ModelMetadata by one function, so an incremental index and a deep-scan
rebuild are the same row for row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError
from ..library.metadata import ModelMetadata
from ..sqlite import Database
from .schema import MIGRATIONS

_MODEL_COLUMNS = ("model_id", "blake3", "sha256", "model_type", "family", "cleaned_name",
                  "official_name", "format", "path", "primary_file", "size_bytes", "file_count",
                  "added_at", "updated_at", "classification_method", "confidence",
                  "pending_online_lookup", "hub_repo_id", "tags", "header_hashes", "preview")


@dataclass(frozen=True)
class IndexedModel:
    """One row of the models table."""

    model_id: str
    blake3: str
    sha256: str
    model_type: str
    family: str
    cleaned_name: str
    official_name: str | None
    format: str
    path: str              # the model folder, relative to the library root
    primary_file: str | None
    size_bytes: int
    file_count: int
    added_at: str
    updated_at: str
    classification_method: str
    confidence: float
    pending_online_lookup: bool
    hub_repo_id: str | None
    tags: tuple[str, ...]
    header_hashes: tuple[str, ...] = ()
    preview: str | None = None     # "<model file stem>.preview.png" in the model folder


@dataclass(frozen=True)
class IndexedFile:
    """One row of the files table: a file of a model, relative to its folder."""

    name: str
    size: int
    blake3: str
    sha256: str


def model_row(meta: ModelMetadata, path: str) -> tuple:
    hub_repo = meta.hub.get("repo_id") if meta.hub else None
    return (meta.model_id, meta.blake3, meta.sha256, meta.model_type, meta.family, meta.cleaned_name,
            meta.official_name, meta.format, path, meta.primary_file, meta.size_bytes, len(meta.files),
            meta.added_at, meta.updated_at, meta.classification.method, meta.classification.confidence,
            int(meta.pending_online_lookup), hub_repo, json.dumps(list(meta.tags)),
            " ".join(meta.header_hashes.values()), meta.preview)


def _file_rows(meta: ModelMetadata) -> Iterator[tuple]:
    for f in meta.files:
        yield (meta.model_id, f.name, f.size, f.blake3, f.sha256)


def _to_model(row: sqlite3.Row) -> IndexedModel:
    values = dict(row)
    values["pending_online_lookup"] = bool(values["pending_online_lookup"])
    values["tags"] = tuple(json.loads(values["tags"]))
    values["header_hashes"] = tuple(values["header_hashes"].split())
    return IndexedModel(**values)


class ModelIndex(Database):
    """The one owner of models.db."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS)

    # -- writes -------------------------------------------------------------------------------
    def upsert(self, meta: ModelMetadata, path: str) -> None:
        with self.atomic() as db:
            self._insert(db, meta, path)

    def _insert(self, db: sqlite3.Connection, meta: ModelMetadata, path: str) -> None:
        db.execute("DELETE FROM dirty WHERE path = ?", (path,))
        db.execute("DELETE FROM models WHERE model_id = ? OR path = ?", (meta.model_id, path))
        db.execute(f"INSERT INTO models VALUES ({','.join('?' * len(_MODEL_COLUMNS))})",
                   model_row(meta, path))
        db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)", _file_rows(meta))

    def remove(self, model_id: str) -> None:
        with self.atomic() as db:
            db.execute("DELETE FROM dirty WHERE path IN (SELECT path FROM models WHERE model_id = ?)", (model_id,))
            db.execute("DELETE FROM models WHERE model_id = ?", (model_id,))

    def remove_path(self, path: str) -> None:
        with self.atomic() as db:
            db.execute("DELETE FROM dirty WHERE path = ?", (path,))
            db.execute("DELETE FROM models WHERE path = ?", (path,))

    def mark_dirty(self, path: str) -> None:
        """Intent: this model folder is about to change on disk; its row is re-read from
        metadata.json at start-up unless the change is committed here first."""
        with self.atomic() as db:
            db.execute("INSERT OR REPLACE INTO dirty VALUES (?, datetime('now'))", (path,))

    def mark_clean(self, path: str) -> None:
        """The change announced by mark_dirty did not happen."""
        with self.atomic() as db:
            db.execute("DELETE FROM dirty WHERE path = ?", (path,))

    def dirty_paths(self) -> list[str]:
        return [r["path"] for r in self.query("SELECT path FROM dirty ORDER BY path")]

    def replace_all(self, records: Iterable[tuple[ModelMetadata, str]]) -> int:
        """Swap the whole index for records in one transaction (the deep-scan rebuild)."""
        count = 0
        with self.atomic() as db:
            db.execute("DELETE FROM dirty")
            db.execute("DELETE FROM files")
            db.execute("DELETE FROM models")
            for meta, path in records:
                self._insert(db, meta, path)
                count += 1
        return count

    def set_meta(self, key: str, value: str) -> None:
        with self.atomic() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0]["value"] if row else None

    # -- reads --------------------------------------------------------------------------------
    def count(self) -> int:
        return self.query("SELECT count(*) AS n FROM models")[0]["n"]

    def by_blake3(self, blake3: str) -> IndexedModel | None:
        rows = self.query("SELECT * FROM models WHERE blake3 = ?", (blake3,))
        return _to_model(rows[0]) if rows else None

    def get(self, model_id: str) -> IndexedModel | None:
        rows = self.query("SELECT * FROM models WHERE model_id = ?", (model_id,))
        return _to_model(rows[0]) if rows else None

    def all(self, model_type: str | None = None) -> list[IndexedModel]:
        if model_type:
            rows = self.query("SELECT * FROM models WHERE model_type = ? ORDER BY path", (model_type,))
        else:
            rows = self.query("SELECT * FROM models ORDER BY path")
        return [_to_model(r) for r in rows]

    def search(self, text: str) -> list[IndexedModel]:
        """Names, types, families and tags containing text; or, for 8+ hex digits in either case, a
        SHA-256 prefix (AutoV2 is its first 10) of the model or of one of its files."""
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        hashed = text.lower() + "%" if len(text) >= 8 and _is_hex(text) else ""
        rows = self.query(
            "SELECT DISTINCT m.* FROM models m LEFT JOIN files f USING (model_id) WHERE "
            "m.cleaned_name LIKE ?1 ESCAPE '\\' OR m.official_name LIKE ?1 ESCAPE '\\' "
            "OR m.family LIKE ?1 ESCAPE '\\' OR m.model_type LIKE ?1 ESCAPE '\\' "
            "OR m.tags LIKE ?1 ESCAPE '\\' OR f.name LIKE ?1 ESCAPE '\\' "
            "OR (?2 != '' AND (m.sha256 LIKE ?2 OR f.sha256 LIKE ?2 OR ' ' || m.header_hashes LIKE '% ' || ?2)) "
            "ORDER BY m.path", (like, hashed))
        return [_to_model(r) for r in rows]

    def resolve(self, query: str) -> IndexedModel:
        """A model by id (or unique id prefix), hash prefix, exact name or path."""
        if _is_hex(query):
            prefix = query.lower() + "%"
            rows = self.query("SELECT * FROM models WHERE model_id LIKE ?1 OR blake3 LIKE ?1 "
                               "OR sha256 LIKE ?1 OR ' ' || header_hashes LIKE '% ' || ?1", (prefix,))
        else:
            rows = []
        if not rows:
            rows = self.query("SELECT * FROM models WHERE cleaned_name = ?1 OR path = ?1 "
                               "OR primary_file = ?1", (query,))
        if len(rows) != 1:
            raise ModelNotFoundError(query, len(rows))
        return _to_model(rows[0])

    def pending_ids(self) -> list[str]:
        """Models still waiting for a Hub lookup."""
        return [r["model_id"] for r in self.query(
            "SELECT model_id FROM models WHERE pending_online_lookup ORDER BY added_at")]

    def files(self, model_id: str) -> list[IndexedFile]:
        return [IndexedFile(*r) for r in self.query("SELECT name, size, blake3, sha256 FROM files "
                                                    "WHERE model_id = ? ORDER BY name", (model_id,))]

    def dump(self) -> tuple[list[tuple], list[tuple]]:
        """Every row of models and files, in a stable order (for comparing two indexes)."""
        return ([tuple(r) for r in self.query("SELECT * FROM models ORDER BY model_id")],
                [tuple(r) for r in self.query("SELECT * FROM files ORDER BY model_id, name")])


def _is_hex(text: str) -> bool:
    return len(text) >= 4 and all(c in "0123456789abcdefABCDEF" for c in text)
