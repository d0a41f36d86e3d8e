"""Building the Hub client from the config (the wiring for both the daemon and the CLI)."""

from __future__ import annotations

from ..config import Config
from .cache import HubCache
from .client import HubClient, settings_from_env
from .transport import install_strict_transport


def build_hub_client(config: Config) -> HubClient:
    hub = config.hub
    settings = settings_from_env(endpoint=hub.endpoint, offline=hub.offline or not hub.enabled,
                                 calls_per_minute=hub.calls_per_minute, timeout=hub.timeout_seconds,
                                 cache_ttl=hub.cache_hours * 3600, negative_ttl=hub.negative_cache_hours * 3600,
                                 breaker_failures=hub.breaker_failures, breaker_seconds=hub.breaker_minutes * 60)
    install_strict_transport(settings.timeout)
    cache = HubCache(config.paths.state_dir / "hub-cache.db", settings.cache_ttl, settings.negative_ttl)
    return HubClient(settings, cache)
