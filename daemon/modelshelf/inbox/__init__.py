"""Inbox folders: watching, and deciding when a dropped file or folder has fully arrived."""

from .arrival import Arrival, ArrivalTracker, CheckResult, EventKind, Incomplete, Signature
from .ignore import DEFAULT_IGNORE, FAILED_FOLDER, IgnoreRules
from .watcher import InboxWatcher

__all__ = ["DEFAULT_IGNORE", "FAILED_FOLDER", "Arrival", "ArrivalTracker", "CheckResult", "EventKind",
           "IgnoreRules", "Incomplete", "InboxWatcher", "Signature"]
