"""Drive detection (SSD or HDD behind a path) and per-drive job queues."""

from .detect import Drive, DriveDetector, DriveKind
from .queues import DriveQueues, Queued

__all__ = ["Drive", "DriveDetector", "DriveKind", "DriveQueues", "Queued"]
