from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import blake3


def digests(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    return blake3.blake3(data).hexdigest(), hashlib.sha256(data).hexdigest()


def sha256(path: Path) -> str:
    """SHA-256 of a file of any size, streamed (digests() reads the whole file: small ones only)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll condition until it is truthy; fail after timeout (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


EMPTY_LIBRARY = [".modelshelf-library", ".modelshelf-lock"]   # the marker and the writer lock
