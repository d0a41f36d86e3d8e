"""Keeping the index in step with metadata.json across crashes.

metadata.json is written first (it is the truth), the index row after. A crash between the two
would leave the cache stale, so the folder is marked dirty in models.db before the write and the
mark is cleared in the same transaction as the row; start-up re-reads whatever is still marked.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ModelshelfError
from ..library.metadata import METADATA_NAME, ModelMetadata, read_metadata, write_metadata
from .db import ModelIndex

log = logging.getLogger(__name__)


def rewrite_metadata(root: Path, index: ModelIndex, rel: str, meta: ModelMetadata) -> None:
    """Write a model's metadata.json and its index row, crash-safely."""
    index.mark_dirty(rel)
    write_metadata(root / rel, meta)
    index.upsert(meta, rel)


def reindex(root: Path, index: ModelIndex, rel: str) -> None:
    """Make the index row of one model folder match the disk: its metadata.json, or no row."""
    folder = root / rel
    if not folder.is_dir():
        index.remove_path(rel)
        return
    for leftover in folder.glob(f".{METADATA_NAME}.*.tmp"):   # an atomic write cut short
        leftover.unlink(missing_ok=True)
    try:
        meta = read_metadata(folder / METADATA_NAME)
    except ModelshelfError as e:
        log.error("cannot re-index %s after an interruption: %s", rel, e)
        index.remove_path(rel)
        return
    index.upsert(meta, rel)
    log.info("re-indexed %s after an interrupted change", rel)
