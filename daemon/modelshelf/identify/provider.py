"""What every identification provider (the Hub, CivitAI, ...) offers, and what it answers.

A provider is asked about a batch of models at once (CivitAI answers up to 100 SHA-256 hashes in
one call) and answers each one with exactly one of: a match (with how it was proven), not found,
gone upstream, or failed (it could not be asked now; the model stays pending). The merge rule in
merge.py decides what of that is recorded.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..library.metadata import ModelMetadata, utc_now

if TYPE_CHECKING:       # `modelshelf show` needs this module, not the Hub's client (~0.2 s to import)
    from ..hub.state import ServiceState


class Method(enum.StrEnum):
    SHA256 = "sha256"        # the provider lists a file with our SHA-256 (and size): proven
    BLAKE3 = "blake3"        # the same, by BLAKE3: proven
    NAME = "name"            # found by name only: a guess

    @property
    def proven(self) -> bool:
        return self is not Method.NAME


@dataclass(frozen=True)
class ProviderMatch:
    """A provider's record of one model. `record` holds the provider's own fields (JSON-ready)."""
    provider: str
    method: Method
    confidence: float
    ref: str                                  # the provider's id: "civitai:12@34", "hf:org/repo"
    name: str | None = None                   # the official (model) name
    base_model: str | None = None             # as the provider spells it ("SDXL 1.0", "org/base")
    family: str | None = None                 # base_model mapped to modelshelf's family names, if known
    trained_words: tuple[str, ...] = ()
    download_url: str | None = None
    record: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""
    fetched_at: str = field(default_factory=utc_now)

    @property
    def proven(self) -> bool:
        return self.method.proven


@dataclass(frozen=True)
class NotFound:
    provider: str
    reason: str = ""
    fetched_at: str = field(default_factory=utc_now)


@dataclass(frozen=True)
class GoneUpstream:
    """The provider says the model it once listed is deleted or unpublished."""
    provider: str
    reason: str = ""
    fetched_at: str = field(default_factory=utc_now)


@dataclass(frozen=True)
class LookupFailed:
    """The provider could not be asked (offline, throttled, 5xx, garbage): nothing changes but the
    attempt; the model is retried later."""
    provider: str
    reason: str
    fetched_at: str = field(default_factory=utc_now)


Answer = ProviderMatch | NotFound | GoneUpstream | LookupFailed


class Provider(Protocol):
    """An identification provider. Implementations own their throttle, breaker and cache."""

    name: str

    def lookup(self, models: Sequence[ModelMetadata]) -> dict[str, Answer]:
        """Answer for each model (keyed by model_id); never raises for a network problem."""
        ...

    def offline(self) -> bool:
        """True when the provider is switched off or offline: asking it would only skip."""
        ...

    def state(self) -> ServiceState:
        """Status for `modelshelf status`: state, endpoint, calls, breaker, last error."""
        ...

    def stop_waiting(self) -> None:
        """Shutting down: a lookup waiting for a throttle slot gives up now."""
        ...

    def close(self) -> None:
        """Close the provider's cache and connections."""
        ...


class ClientBacked:
    """What a provider answers from its client (the Hub's, CivitAI's): offline, state, stop."""

    client: Any

    def offline(self) -> bool:
        return self.client.settings.offline

    def state(self) -> ServiceState:
        return self.client.state()

    def stop_waiting(self) -> None:
        self.client.stop_waiting()
