"""Bringing models into the library: single-pass copy + hashes, staging, verified commit."""

from .bookkeeping import downloads_in_progress, is_download_in_progress, is_tool_bookkeeping, walk_content
from .importer import (
    Importer,
    ImportJob,
    ImportOutcome,
    ImportProgress,
    ImportResult,
    ProgressListener,
    settings_from_config,
)
from .plan import find_importables
from .retire import recover_retired
from .sinks import FileDigest
from .staging import RecoveryReport, recover_staging
from .transfer import StreamSettings, hash_file

__all__ = ["FileDigest", "ImportJob", "ImportOutcome", "ImportProgress", "ImportResult", "Importer",
           "ProgressListener", "RecoveryReport", "StreamSettings", "downloads_in_progress", "find_importables",
           "hash_file", "is_download_in_progress", "is_tool_bookkeeping", "recover_retired", "recover_staging",
           "settings_from_config", "walk_content"]
