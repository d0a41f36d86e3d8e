"""Errors of the identification providers (each one a ModelshelfError, printed as one line)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelshelfError


class ProviderUnavailableError(ModelshelfError, ConnectionError):
    """A provider cannot be asked now (offline, unreachable, throttled, breaker open): retried later."""

    def __init__(self, provider: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{provider} unavailable: {reason}")
        self.provider, self.reason, self.retry_after = provider, reason, retry_after


class ProviderAnswerError(ProviderUnavailableError):
    """A provider answered something unusable (an HTML page, garbage, a huge body, a wrong shape)."""


class PreviewRejectedError(ModelshelfError, ValueError):
    """A preview image was not saved: not an image, too large, or it could not be downloaded."""

    def __init__(self, url: str, reason: str, folder: Path | None = None) -> None:
        where = f" for {folder}" if folder else ""
        super().__init__(f"preview{where} from {url} rejected: {reason}")
        self.folder, self.url, self.reason = folder, url, reason
