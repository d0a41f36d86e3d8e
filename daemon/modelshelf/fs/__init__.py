"""Filesystem primitives: durable writes, Linux-only calls with fallbacks, portable names."""

from .durable import atomic_write_bytes, fsync_dir, write_all
from .linux import clone_file, drop_cache, rename_noreplace
from .names import safe_name

__all__ = ["atomic_write_bytes", "clone_file", "drop_cache", "fsync_dir", "rename_noreplace",
           "safe_name", "write_all"]
