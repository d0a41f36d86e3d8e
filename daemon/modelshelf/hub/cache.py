"""Provider answers kept in SQLite: the Hub's search results and repo file lists (hub-cache.db in
the state folder) for 24 h, CivitAI's answers per hash (civitai-cache.db); "nothing found" for a
shorter time. Stale entries are still served when the provider cannot be reached. Disposable:
deleting the file only costs calls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..sqlite import Database

MIGRATIONS = [("initial", "CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                             "fetched_at REAL NOT NULL, negative INTEGER NOT NULL)")]


@dataclass(frozen=True)
class Cached:
    value: Any
    fresh: bool


class HubCache(Database):
    def __init__(self, path: Path, ttl: float, negative_ttl: float, clock: Callable[[], float] = time.time) -> None:
        super().__init__(path, MIGRATIONS)
        self.ttl, self.negative_ttl, self.clock = ttl, negative_ttl, clock

    def get(self, key: str) -> Cached | None:
        rows = self.query("SELECT value, fetched_at, negative FROM entries WHERE key = ?", (key,))
        if not rows:
            return None
        value, fetched_at, negative = rows[0]
        ttl = self.negative_ttl if negative else self.ttl
        return Cached(json.loads(value), self.clock() - fetched_at < ttl)

    def put(self, key: str, value: Any, negative: bool = False) -> None:
        with self.atomic() as db:
            db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                       (key, json.dumps(value), self.clock(), int(negative)))
