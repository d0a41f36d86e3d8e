"""models.db, the rebuildable index of the library."""

from .db import IndexedFile, IndexedModel, ModelIndex
from .scan import ScanReport, ScanWarning, rebuild_index, scan_library

__all__ = ["IndexedFile", "IndexedModel", "ModelIndex", "ScanReport", "ScanWarning", "rebuild_index", "scan_library"]
