"""Wiring: the one place that builds the library, index and importer from a Config."""

from __future__ import annotations

import functools
import logging
import threading

from .adopt.journal import JOURNAL_NAME
from .config import Config
from .index import ModelIndex, rebuild_index
from .index.writer import LibraryWriter
from .ingest import Importer, ProgressListener, recover_staging
from .library import Library, WriterLock, open_library
from .library.root import LIBRARY_LOCK_NAME
from .links import Linker, LinkRegistry

log = logging.getLogger(__name__)


class Shelf:
    """An opened library with its index. `writer=True` takes the writer lock and cleans up after
    any interrupted import (leftover staging, renamed-away sources returned)."""

    def __init__(self, config: Config, *, writer: bool, purpose: str = "cli") -> None:
        self.config = config
        self.lock = WriterLock(config.paths.state_dir / "writer.lock")
        self.library_lock: WriterLock | None = None
        if writer:
            self.lock.acquire(purpose)
        try:
            self.index = ModelIndex(config.index_path)
            self.library = self._open_library()
            self.writer = LibraryWriter(self.library, self.index)
            if writer:
                # Also at the library root: two configs (two state dirs) may name one library.
                self.library_lock = WriterLock(self.library.root / LIBRARY_LOCK_NAME)
                self.library_lock.acquire(purpose)
                report = recover_staging(self.library)
                if report.jobs_removed:
                    log.info("removed %d interrupted imports from staging", report.jobs_removed)
                self.writer.recover()      # placed or rewritten, not yet committed
                for problem in report.problems:
                    log.error("%s", problem)
                self._recover_adoptions()         # after the index holds every placed model
        except BaseException:
            self.close()
            raise

    def _recover_adoptions(self) -> None:
        """Finish or roll back an interrupted adoption. Imported only when one left its journal:
        every CLI command opens a Shelf, and the adopter (apps, planner) costs ~30 ms to import."""
        if (self.config.paths.state_dir / JOURNAL_NAME).exists():
            from .adopt.recover import recover_adoptions
            recover_adoptions(self)

    def _open_library(self) -> Library:
        known = self.index.get_meta("library_id")
        library = open_library(self.config.paths.library, may_create=known is None)
        if known is None:
            self.index.set_meta("library_id", library.library_id)
        elif known != library.library_id:
            log.warning("index %s belonged to another library: rebuilding it from %s",
                        self.index.path, library.root)
            rebuild_index(library, self.index)
        return library

    @functools.cached_property
    def registry(self) -> LinkRegistry:
        """Opened on first use: list, show and search never need the link registry."""
        return LinkRegistry(self.config.paths.state_dir / "registry.db")

    def importer(self, on_progress: ProgressListener | None = None,
                 cancel: threading.Event | None = None) -> Importer:
        return Importer(self.writer, self.config.imports, on_progress, cancel)

    def linker(self) -> Linker:
        return Linker(self.library, self.index, self.registry, self.config.apps)

    def close(self) -> None:
        if hasattr(self, "index"):
            self.index.close()
        if "registry" in self.__dict__:     # only if it was opened
            self.registry.close()
        if self.library_lock is not None:
            self.library_lock.release()
        self.lock.release()

    def __enter__(self) -> Shelf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
