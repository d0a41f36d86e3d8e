"""Hub answers kept in SQLite (hub-cache.db in the state folder): search results and repo file
lists for 24 h, "nothing found" for a shorter time. Stale entries are still served when the Hub
cannot be reached. Disposable: deleting the file only costs calls."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Cached:
    value: Any
    fresh: bool


class HubCache:
    def __init__(self, path: Path, ttl: float, negative_ttl: float, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                         "fetched_at REAL NOT NULL, negative INTEGER NOT NULL)")
        self.ttl, self.negative_ttl, self.clock = ttl, negative_ttl, clock
        self._lock = threading.Lock()

    def get(self, key: str) -> Cached | None:
        with self._lock:
            row = self._db.execute("SELECT value, fetched_at, negative FROM entries WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value, fetched_at, negative = row
        ttl = self.negative_ttl if negative else self.ttl
        return Cached(json.loads(value), self.clock() - fetched_at < ttl)

    def put(self, key: str, value: Any, negative: bool = False) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                             (key, json.dumps(value), self.clock(), int(negative)))

    def close(self) -> None:
        with self._lock:
            self._db.close()
