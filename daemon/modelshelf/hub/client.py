"""The one owner of the Hugging Face Hub client, its throttle, breaker and cache.

Two kinds of calls: a model search (to find candidate repos by name) and a repo's file list with
LFS metadata (to verify a candidate by SHA-256 and size, and to read its tags, license, ...).
Every call goes through: offline check → breaker → throttle → strict transport; answers are
cached, and a stale answer beats no answer when the Hub cannot be reached.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from huggingface_hub import HfApi
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from ..errors import HubUnavailableError
from .cache import HubCache
from .state import ServiceState, service_state
from .throttle import CircuitBreaker, SlidingWindowThrottle

log = logging.getLogger(__name__)
DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass(frozen=True)
class HubSettings:
    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None
    offline: bool = False
    calls_per_minute: int = 60
    timeout: float = 10.0
    cache_ttl: float = 24 * 3600.0
    negative_ttl: float = 3600.0
    breaker_failures: int = 5
    breaker_seconds: float = 300.0
    max_wait: float = 30.0        # a lookup waits this long at most for a throttle slot


@dataclass(frozen=True)
class Candidate:
    repo_id: str
    files: tuple[str, ...]
    downloads: int = 0


@dataclass(frozen=True)
class RepoFile:
    name: str
    size: int | None
    sha256: str | None    # the LFS oid; None for small files kept in git


@dataclass(frozen=True)
class RepoInfo:
    repo_id: str
    revision: str
    files: tuple[RepoFile, ...]
    tags: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    license: str | None = None
    base_model: str | list[str] | None = None


class HubClient:
    def __init__(self, settings: HubSettings, cache: HubCache, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.cache = settings, cache
        self.throttle = SlidingWindowThrottle(settings.calls_per_minute, 60.0, clock)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_seconds, clock)
        self._stop = threading.Event()        # set by stop_waiting(): a throttle wait gives up
        self.calls = 0
        self._calls_lock = threading.Lock()
        self.last_error: str | None = None
        self.api = HfApi(endpoint=settings.endpoint, token=settings.token or None)

    # -- the two questions ------------------------------------------------------------------------
    def stop_waiting(self) -> None:
        """Shutting down: a lookup waiting for a throttle slot gives up now (it stays pending)."""
        self._stop.set()

    def search(self, query: str, limit: int = 20) -> list[Candidate]:
        key = f"search:{query.lower()}:{limit}"
        found = self._cached_call(key, lambda: [asdict(c) for c in self._search(query, limit)],
                                  negative=lambda v: not v)
        return [Candidate(c["repo_id"], tuple(c["files"]), c["downloads"]) for c in found]

    def repo(self, repo_id: str) -> RepoInfo | None:
        """A repo's files with sizes and SHA-256, and its card facts; None if it is gone or gated."""
        found = self._cached_call(f"repo:{repo_id}", lambda: self._repo(repo_id), negative=lambda v: v is None)
        if found is None:
            return None
        files = tuple(RepoFile(**f) for f in found.pop("files"))
        return RepoInfo(files=files, **{k: (tuple(v) if k == "tags" else v) for k, v in found.items()})

    def _search(self, query: str, limit: int) -> list[Candidate]:
        models = self.api.list_models(search=query, limit=limit, expand=["siblings", "downloads"])
        return [Candidate(m.id, tuple(s.rfilename for s in (m.siblings or [])), m.downloads or 0)
                for m in models]

    def _repo(self, repo_id: str) -> dict[str, Any] | None:
        try:
            info = self.api.model_info(repo_id, files_metadata=True)
        except (RepositoryNotFoundError, GatedRepoError):
            return None
        card = info.card_data.to_dict() if info.card_data else {}
        files = [asdict(RepoFile(s.rfilename, s.size, s.lfs.sha256 if s.lfs else None))
                 for s in (info.siblings or [])]
        license_ = card.get("license") or next((t.split(":", 1)[1] for t in info.tags or []
                                                 if t.startswith("license:")), None)
        return {"repo_id": info.id, "revision": info.sha or "main", "files": files, "tags": list(info.tags or []),
                "pipeline_tag": info.pipeline_tag, "license": license_, "base_model": card.get("base_model")}

    # -- every call -------------------------------------------------------------------------------
    def _cached_call(self, key: str, call: Callable[[], Any], negative: Callable[[Any], bool]) -> Any:
        cached = self.cache.get(key)
        if cached is not None and cached.fresh:
            return cached.value
        try:
            value = self._call(call)
        except HubUnavailableError:
            if cached is not None:
                log.info("Hub unavailable: using a stale cached answer for %s", key)
                return cached.value
            raise
        self.cache.put(key, value, negative=negative(value))
        return value

    def _call(self, call: Callable[[], Any]) -> Any:
        if self.settings.offline:
            raise HubUnavailableError("offline mode (HF_HUB_OFFLINE or [hub] offline)")
        self.breaker.check()
        self.throttle.acquire(self._stop.wait, self.settings.max_wait)
        with self._calls_lock:
            self.calls += 1
        try:
            value = call()
        except HubUnavailableError as e:
            self.last_error = e.reason
            if e.retry_after is not None:          # 429: every thread waits
                self.throttle.pause(e.retry_after)
            else:
                self.breaker.failure()
            raise
        except HfHubHTTPError as e:               # 4xx other than 404/gated: the request is wrong
            self.last_error = str(e).splitlines()[0]
            self.breaker.failure()
            raise HubUnavailableError(self.last_error) from None
        self.breaker.success()
        self.last_error = None
        return value

    def state(self) -> ServiceState:
        return service_state(offline=self.settings.offline, endpoint=self.settings.endpoint, calls=self.calls,
                             limit=self.settings.calls_per_minute, throttle=self.throttle, breaker=self.breaker,
                             last_error=self.last_error)


def offline_from_env() -> bool:
    """HF_HUB_OFFLINE=1 (huggingface_hub's own switch): modelshelf asks no online service."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def settings_from_env(endpoint: str = "", token: str = "", offline: bool = False, **kw: Any) -> HubSettings:
    """Config values win; else HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE from the environment."""
    env_offline = offline_from_env()
    return HubSettings(endpoint=(endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"),
                       token=token or os.environ.get("HF_TOKEN") or None, offline=offline or env_offline, **kw)
