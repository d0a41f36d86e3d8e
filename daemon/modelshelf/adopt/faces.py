"""The narrow faces adoption needs of the parts above it: an opened Shelf and the daemon's status
board. adopt/ sits below shelf.py (whose start-up runs its recovery) and never imports it."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from ..config import Config
from ..index import ModelIndex
from ..ingest import Importer, ImportProgress, ImportResult, ProgressListener
from ..library import Library
from ..links import LinkRegistry


class OpenedShelf(Protocol):
    """An opened library with its index, registry and importer (shelf.Shelf)."""

    config: Config
    library: Library
    index: ModelIndex

    @property
    def registry(self) -> LinkRegistry: ...

    def importer(self, on_progress: ProgressListener | None = None,
                 cancel: threading.Event | None = None) -> Importer: ...


class Board(Protocol):
    """Where the daemon shows its jobs (service.status.StatusBoard)."""

    model_count: int

    def queued(self, job_id: str, source: Path) -> None: ...

    def started(self, job_id: str) -> None: ...

    def progress(self, p: ImportProgress) -> None: ...

    def finished(self, job_id: str, result: ImportResult | None = None, error: str | None = None) -> None: ...
