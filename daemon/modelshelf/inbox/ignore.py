"""Which inbox entries are partial downloads, temporary files or system clutter."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from pathlib import PurePath

from ..config import DEFAULT_IGNORE

FAILED_FOLDER = "failed"
_RSYNC_TEMP = re.compile(r"\..+\.[A-Za-z0-9]{6}")   # rsync writes .name.XXXXXX, then renames it

class IgnoreRules:
    """Glob patterns matched against every path component (case-insensitive)."""

    def __init__(self, patterns: Iterable[str] = DEFAULT_IGNORE) -> None:
        self.patterns = tuple(p.lower() for p in patterns)

    def name_ignored(self, name: str) -> bool:
        lowered = name.lower()
        return any(fnmatch.fnmatchcase(lowered, p) for p in self.patterns)

    def partial_inside(self, name: str) -> bool:
        """A file inside a dropped folder that says the folder is still being written. Hidden
        names alone do not (Hugging Face folders carry .gitattributes); rsync's temp names do."""
        lowered = name.lower()
        return (any(fnmatch.fnmatchcase(lowered, p) for p in self.patterns if p != ".*")
                or _RSYNC_TEMP.fullmatch(name) is not None)

    def ignored(self, relative: PurePath) -> bool:
        """True if any component of a path relative to the inbox is ignored (or is failed/)."""
        parts = relative.parts
        if parts and parts[0] == FAILED_FOLDER:
            return True
        return any(self.name_ignored(p) for p in parts)
