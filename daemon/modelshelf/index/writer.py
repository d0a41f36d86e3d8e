"""The one writer of the library's metadata.json files and the index rows that mirror them.

Every change to a model's metadata or row goes through a `LibraryWriter`: the importer's commit,
the lookup worker's results, the maintenance actions (delete, rebuild, relocate). It holds one
lock, so a rebuild that scans the disk and then swaps the index cannot lose a lookup written in
between, and a lookup that waited minutes on the network re-reads metadata.json before it writes.

Crash safety: metadata.json is written first (it is the truth), the index row after. A crash
between the two would leave the cache stale, so the folder is marked dirty in models.db before the
write and the mark is cleared in the same transaction as the row; start-up re-reads whatever is
still marked (`recover`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from ..errors import ModelshelfError
from ..library import Library
from ..library.metadata import METADATA_NAME, ModelMetadata, read_metadata, write_metadata
from .db import IndexedModel, ModelIndex
from .scan import ScanReport, rebuild_index

log = logging.getLogger(__name__)

Change = Callable[[ModelMetadata], ModelMetadata | None]


class LibraryWriter:
    """Owns writes to metadata.json + models.db for one library. Thread-safe; re-entrant, so an
    action holding `exclusive()` can still call the writing methods."""

    def __init__(self, library: Library, index: ModelIndex) -> None:
        self.library, self.index = library, index
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off every other write (a rebuild, a delete, an import's commit)."""
        with self._lock:
            yield

    def rewrite(self, rel: str, meta: ModelMetadata) -> None:
        """Write a model's metadata.json and its index row, crash-safely."""
        with self._lock:
            self.index.mark_dirty(rel)
            write_metadata(self.library.folder(rel), meta)
            self.index.upsert(meta, rel)

    def update(self, model_id: str, change: Change) -> ModelMetadata | None:
        """Read a model's metadata.json afresh, apply change, write the result. Returns what was
        written, or None when the model is gone or change returned None (nothing to write)."""
        with self._lock:
            row = self.index.get(model_id)
            if row is None:
                return None
            meta = read_metadata(self.library.folder(row.path) / METADATA_NAME)
            updated = change(meta)
            if updated is not None:
                self.rewrite(row.path, updated)
            return updated

    def read(self, row: IndexedModel) -> ModelMetadata:
        return read_metadata(self.library.folder(row.path) / METADATA_NAME)

    def rebuild(self) -> ScanReport:
        """Rebuild models.db from the metadata.json files; no write lands between scan and swap."""
        with self._lock:
            return rebuild_index(self.library, self.index)

    def recover(self) -> int:
        """Re-index every folder marked dirty by an interrupted write; returns how many."""
        with self._lock:
            dirty = self.index.dirty_paths()
            for rel in dirty:
                self._reindex(rel)
            return len(dirty)

    def _reindex(self, rel: str) -> None:
        """Make the index row of one model folder match the disk: its metadata.json, or no row."""
        folder = self.library.folder(rel)
        if not folder.is_dir():
            self.index.remove_path(rel)
            return
        for leftover in folder.glob(f".{METADATA_NAME}.*.tmp"):   # an atomic write cut short
            leftover.unlink(missing_ok=True)
        try:
            meta = read_metadata(folder / METADATA_NAME)
        except ModelshelfError as e:
            log.error("cannot re-index %s after an interruption: %s", rel, e)
            self.index.remove_path(rel)
            return
        self.index.upsert(meta, rel)
        log.info("re-indexed %s after an interrupted change", rel)

