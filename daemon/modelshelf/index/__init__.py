"""models.db, the rebuildable index of the library."""

from .db import IndexedModel, ModelIndex
from .scan import ScanReport, ScanWarning, rebuild_index, scan_library

__all__ = ["IndexedModel", "ModelIndex", "ScanReport", "ScanWarning", "rebuild_index", "scan_library"]
