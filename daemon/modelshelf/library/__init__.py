"""The library on disk: folders, markers, and metadata.json (the source of truth)."""

from .metadata import (
                       METADATA_NAME,
                       SCHEMA_VERSION,
                       ClassificationRecord,
                       FileEntry,
                       ModelMetadata,
                       Source,
                       read_metadata,
                       write_metadata,
)
from .root import MARKER_NAME, STAGING_NAME, Library, WriterLock, open_library

__all__ = ["MARKER_NAME", "METADATA_NAME", "SCHEMA_VERSION", "STAGING_NAME", "ClassificationRecord",
           "FileEntry", "Library", "ModelMetadata", "Source", "WriterLock", "open_library",
           "read_metadata", "write_metadata"]
