"""The adoption journal: adopt.db in the state folder, one row per app file being adopted.

A row is written (synchronous=FULL) before each step that changes the app's folder, so that
start-up recovery knows what was under way after a crash: see recover.py for the rules.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import AppKind
from ..ingest.retire import FileKey
from ..library.metadata import utc_now
from ..sqlite import Database

JOURNAL_NAME = "adopt.db"
_KINDS = {k.value for k in AppKind}

MIGRATIONS = [("initial", """
    CREATE TABLE adopting (
        path BLOB PRIMARY KEY,          -- the app's file (os.fsencode: names need not be UTF-8)
        phase TEXT NOT NULL,
        install TEXT NOT NULL,
        target TEXT NOT NULL,           -- the app file relative to the install
        dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
        model_id TEXT,
        library_file TEXT,              -- relative to the library root
        kind TEXT,
        temp BLOB,                      -- the link made beside the app file, before the rename
        updated_at TEXT NOT NULL
    );
    """), ("the install's app kind", """
    ALTER TABLE adopting ADD COLUMN app TEXT;   -- so recovery registers the install as its kind
    """)]


class Phase(enum.StrEnum):
    PLANNED = "planned"      # about to be brought into the library; the app file is untouched
    IMPORTED = "imported"    # the library holds a verified copy (committed); app file untouched
    LINKING = "linking"      # a link under the temp name is being made beside the app file
    LINKED = "linked"        # the temp link exists and is durable; the rename over comes next
    RENAMED = "renamed"      # the app's name is the link; the registry entry comes next


@dataclass(frozen=True)
class Entry:
    path: Path
    phase: Phase
    install: str
    target: str
    key: FileKey
    model_id: str | None = None
    library_file: str | None = None
    kind: str | None = None
    temp: Path | None = None
    app: AppKind | None = None      # the install's kind (None: a row from before it was kept)


def _entry(row) -> Entry:
    temp = row["temp"]
    return Entry(Path(os.fsdecode(row["path"])), Phase(row["phase"]), row["install"], row["target"],
                 (row["dev"], row["ino"], row["size"], row["mtime_ns"]), row["model_id"], row["library_file"],
                 row["kind"], Path(os.fsdecode(temp)) if temp is not None else None,
                 AppKind(row["app"]) if row["app"] in _KINDS else None)


class AdoptJournal(Database):
    """The one owner of adopt.db."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir / JOURNAL_NAME, MIGRATIONS)
        self.query("PRAGMA synchronous=FULL")    # a step is taken only after its row is on disk

    def record(self, entry: Entry) -> None:
        with self.atomic() as db:
            db.execute("INSERT OR REPLACE INTO adopting (path, phase, install, target, dev, ino, size, mtime_ns, "
                       "model_id, library_file, kind, temp, updated_at, app) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (os.fsencode(entry.path), entry.phase.value, entry.install, entry.target, *entry.key,
                        entry.model_id, entry.library_file, entry.kind,
                        os.fsencode(entry.temp) if entry.temp is not None else None, utc_now(),
                        entry.app.value if entry.app else None))

    def done(self, path: Path) -> None:
        with self.atomic() as db:
            db.execute("DELETE FROM adopting WHERE path = ?", (os.fsencode(path),))

    def entries(self) -> list[Entry]:
        return [_entry(r) for r in self.query("SELECT * FROM adopting ORDER BY path")]
