"""models.db, the rebuildable index of the library."""

from .db import IndexedModel, ModelIndex
from .scan import ScanReport, ScanWarning, rebuild_index, rebuild_summary, scan_library

__all__ = ["IndexedModel", "ModelIndex", "ScanReport", "ScanWarning", "rebuild_index", "rebuild_summary",
           "scan_library"]
