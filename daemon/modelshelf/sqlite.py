"""One owner per SQLite database: WAL, busy_timeout, synchronous=NORMAL, savepoint transactions
and migrations recorded in a table. models.db, registry.db and hub-cache.db all use it."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path


class Database:
    def __init__(self, path: Path, migrations: Sequence[tuple[str, str]] = ()) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
            self._db.execute(f"PRAGMA {pragma}")
        self._migrate(migrations)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """A transaction (a savepoint when nested); rolled back if the block raises."""
        with self._lock:
            nested = self._db.in_transaction
            self._db.execute("SAVEPOINT atomic" if nested else "BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK TO atomic; RELEASE atomic" if nested else "ROLLBACK")
                raise
            self._db.execute("RELEASE atomic" if nested else "COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def checkpoint(self) -> tuple[int, int]:
        """Fold the WAL into the database and truncate it. Returns (WAL pages, pages moved)."""
        with self._lock:
            _, log, moved = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return log, moved

    def _migrate(self, migrations: Sequence[tuple[str, str]]) -> None:
        with self.atomic() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
                       "name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            done = {r[0] for r in db.execute("SELECT version FROM migrations")}
            for version, (name, sql) in enumerate(migrations, start=1):
                if version in done:
                    continue
                for statement in filter(str.strip, sql.split(";")):
                    db.execute(statement)
                db.execute("INSERT INTO migrations VALUES (?, ?, ?)",
                           (version, name, datetime.now(UTC).isoformat(timespec="seconds")))
