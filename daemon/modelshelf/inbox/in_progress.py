"""The inbox entries handed to the import pipeline and not yet finished (queued or importing).

Owned by the pipeline, not by a watcher: a reload replaces the watcher, and the new one must not
offer an entry that is still being imported (it would be hashed twice and then fail as gone)."""

from __future__ import annotations

import threading
from pathlib import Path


class InProgress:
    """A thread-safe set of paths."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set[Path] = set()

    def add(self, path: Path) -> None:
        with self._lock:
            self._paths.add(path)

    def discard(self, path: Path) -> None:
        with self._lock:
            self._paths.discard(path)

    def __contains__(self, path: object) -> bool:
        with self._lock:
            return path in self._paths
