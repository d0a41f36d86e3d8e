"""Identifying models on the Hugging Face Hub: offline-first, throttled, cached, SHA-256 verified."""

from .cache import HubCache
from .client import HubClient, HubSettings, settings_from_env
from .identify import HubMatch, identify
from .names import clean_name
from .throttle import CircuitBreaker, SlidingWindowThrottle

__all__ = ["CircuitBreaker", "HubCache", "HubClient", "HubMatch", "HubSettings", "SlidingWindowThrottle", "clean_name",
           "identify", "settings_from_env"]
