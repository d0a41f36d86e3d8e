"""Every error modelshelf raises on purpose. Messages name the action, the paths and the remedy;
the CLI prints str(error) as one line and exits non-zero."""

from __future__ import annotations

from pathlib import Path

from .units import human_size


class ModelshelfError(Exception):
    """Root of modelshelf's errors."""


class ConfigError(ModelshelfError, ValueError):
    """A config file key or value is wrong."""

    def __init__(self, path: Path | None, key: str, problem: str, fix: str) -> None:
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{key}: {problem}; {fix}")
        self.path, self.key = path, key


class LibraryOfflineError(ModelshelfError, FileNotFoundError):
    """The library root is missing or has no marker: an unplugged drive, never an empty library."""

    def __init__(self, root: Path, detail: str) -> None:
        super().__init__(f"library {root} is offline: {detail}. Mount the drive that holds it, "
                         f"or point [paths].library at the right folder")
        self.path = root


class LibraryLockedError(ModelshelfError):
    """Another modelshelf process is writing to this library."""


class NotAModelError(ModelshelfError, ValueError):
    """The input is not a model file modelshelf can import (bad header, wrong format, empty)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"not importing {path}: {reason}")
        self.path, self.reason = path, reason


class SourceChangedError(OSError):
    """The source changed (size, content or name) while it was being imported."""


class IncompleteDownloadError(ModelshelfError):
    """A file in the inbox stopped growing before its own header said it was complete."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"not importing {path.name}: {reason}")


class ShuttingDownError(ModelshelfError):
    """Work offered while the daemon stops: it is not taken (an inbox file stays for next time)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not taking {what}: the daemon is stopping")


class ImportFailedError(ModelshelfError):
    """An import could not complete; the source is untouched and nothing partial was kept."""

    def __init__(self, source: Path, action: str, cause: BaseException | str) -> None:
        detail = cause if isinstance(cause, str) else _describe_os_error(cause)
        super().__init__(f"{action} {source} failed: {detail}")
        self.path, self.action = source, action
        self.cause = cause if isinstance(cause, BaseException) else None


class NoSpaceError(ImportFailedError):
    """Not enough free space in the library for an import."""

    def __init__(self, source: Path, dest: Path, needed: int, free: int, reserve: int = 0) -> None:
        kept = f" ({human_size(reserve)} of it kept in reserve)" if reserve else ""
        super().__init__(source, "importing", f"no space left on {dest}: {human_size(needed)} "
                         f"needed, {human_size(free)} free{kept}. Free some space or move the library")
        self.needed, self.free = needed, free


class ModelNotFoundError(ModelshelfError, LookupError):
    """No model in the index matches what was asked for."""

    def __init__(self, query: str, matches: int = 0) -> None:
        reason = (f"{matches} models match '{query}': give more of the id or name" if matches
                  else f"no model matches '{query}' (see `modelshelf list`)")
        super().__init__(reason)
        self.query = query


class MetadataError(ModelshelfError, ValueError):
    """A metadata.json is unreadable or does not follow the schema."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


def _describe_os_error(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f" ({error.filename})" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error) or type(error).__name__


class TruncatedModelError(NotAModelError):
    """The file's header promises more bytes than it has: a download still running or cut off."""

    def __init__(self, path: Path, expected: int, actual: int) -> None:
        super().__init__(path, f"truncated: the header describes {expected} bytes but the file has "
                         f"{actual}; finish or repeat the download")
        self.expected, self.actual = expected, actual


class HubUnavailableError(ModelshelfError, ConnectionError):
    """The Hub cannot be asked now (offline, unreachable, throttled or the breaker is open)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"Hugging Face Hub unavailable: {reason}")
        self.reason, self.retry_after = reason, retry_after
