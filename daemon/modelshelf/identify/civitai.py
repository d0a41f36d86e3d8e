"""CivitAI as an identification provider: model versions found by the file's SHA-256.

Endpoints (civitai/civitai, src/pages/api/v1/model-versions/by-hash/):
- GET  /api/v1/model-versions/by-hash/{hash}  ([hash].ts): any hash type CivitAI keeps (SHA256,
  BLAKE3, AutoV2, ...), one version or 404 {"error": "Model not found"};
- POST /api/v1/model-versions/by-hash  (index.ts): a JSON array of at most 100 SHA-256 hashes (64
  hex each, else 400), answered by an array of versions, one per matching file, nulls possible;
- GET  /api/v1/models/{id}  (models/[id].ts): the model's own record (tags, nsfw), 404 when gone.

Every call: offline check -> breaker -> throttle -> strict HTTP (timeouts, 4 MiB cap, JSON of the
expected shape). A 429 pauses every thread for Retry-After, or without one for 1 s, 2 s, ... 30 s
(shared backoff), then the call is retried. 5xx, timeouts, refused connections and garbage count
towards the breaker. Answers per hash, including "not found", are cached in SQLite.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Config, NsfwChoice
from ..hub.cache import HubCache
from ..hub.client import offline_from_env
from ..hub.state import ServiceState, service_state
from ..hub.throttle import CircuitBreaker, SlidingWindowThrottle
from ..hub.transport import parse_retry_after
from ..library.metadata import FileEntry, ModelMetadata
from . import merge
from .backoff import SharedBackoff
from .civitai_records import (
    PROVIDER,
    CivitaiImage,
    CivitaiVersion,
    files_with,
    parse_batch,
    parse_version,
    pick,
    target_file,
    to_match,
    version_from_cache,
    version_to_cache,
)
from .errors import ProviderAnswerError, ProviderUnavailableError
from .http import HttpAnswer, exchange, json_body, make_client
from .previews import choose_preview
from .provider import Answer, ClientBacked, GoneUpstream, LookupFailed, NotFound, ProviderMatch

log = logging.getLogger(__name__)
MAX_BATCH = 100               # the POST endpoint's zod schema: .max(100)
MAX_429_TRIES = 8


# Since 2026 CivitAI serves safe-for-work content on civitai.com and mature content on civitai.red
# (civitai/civitai docs/plans/environment-swap.md). NsfwChoice "hide" asks civitai.com and saves only
# PG/PG-13 previews; "show" asks civitai.red and saves any preview CivitAI publishes.
DOMAINS = {NsfwChoice.HIDE: "https://civitai.com", NsfwChoice.SHOW: "https://civitai.red"}
PREVIEW_LEVELS = {NsfwChoice.HIDE: 2, NsfwChoice.SHOW: 16}   # NsfwLevel: PG=1 PG13=2 R=4 X=8 XXX=16


@dataclass(frozen=True)
class CivitaiSettings:
    endpoint: str = DOMAINS[NsfwChoice.HIDE]
    token: str | None = None
    offline: bool = False
    nsfw: NsfwChoice = NsfwChoice.HIDE
    calls_per_minute: int = 60
    timeout: float = 10.0
    cache_ttl: float = 7 * 24 * 3600.0      # a file's hash never changes; a deletion shows in time
    negative_ttl: float = 24 * 3600.0
    breaker_failures: int = 5
    breaker_seconds: float = 300.0
    max_wait: float = 30.0
    max_body: int = 4 << 20
    batch_size: int = MAX_BATCH
    backoff_first: float = 1.0
    backoff_max: float = 30.0

    @property
    def preview_max_level(self) -> int:
        return PREVIEW_LEVELS[self.nsfw]


def civitai_settings(endpoint: str = "", offline: bool = False, nsfw: NsfwChoice = NsfwChoice.HIDE,
                     **kw: Any) -> CivitaiSettings:
    """$MODELSHELF_CIVITAI_ENDPOINT, else the config's endpoint, else the domain `nsfw` picks. The
    token only ever comes from $CIVITAI_API_TOKEN. HF_HUB_OFFLINE (modelshelf's offline switch)
    keeps CivitAI offline too."""
    env_offline = offline_from_env()
    chosen = os.environ.get("MODELSHELF_CIVITAI_ENDPOINT") or endpoint or DOMAINS[nsfw]
    return CivitaiSettings(endpoint=chosen.rstrip("/"), token=os.environ.get("CIVITAI_API_TOKEN") or None,
                           offline=offline or env_offline, nsfw=nsfw, **kw)


class CivitaiClient:
    """The one owner of CivitAI calls, with its throttle, breaker and shared 429 backoff."""

    def __init__(self, settings: CivitaiSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        unavailable = functools.partial(ProviderUnavailableError, PROVIDER)
        self.throttle = SlidingWindowThrottle(settings.calls_per_minute, 60.0, clock, unavailable)
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_seconds, clock, unavailable)
        self.backoff = SharedBackoff(settings.backoff_first, settings.backoff_max)
        self.http = make_client(settings.timeout)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.calls = 0
        self.last_error: str | None = None

    # -- the questions ----------------------------------------------------------------------------
    def by_hash(self, digest: str) -> list[CivitaiVersion]:
        return self._call("GET", f"/api/v1/model-versions/by-hash/{digest}",
                          parse=lambda found: [] if found is None else [parse_version(found)])

    def by_hashes(self, digests: Sequence[str]) -> list[CivitaiVersion]:
        if not 0 < len(digests) <= MAX_BATCH:
            raise ValueError(f"CivitAI takes 1 to {MAX_BATCH} hashes per call, not {len(digests)}")
        return self._call("POST", "/api/v1/model-versions/by-hash", list(digests), parse=_batch)

    def model(self, model_id: int) -> dict[str, Any] | None:
        """The model's own record (tags, nsfw, its published versions); None if it is gone."""
        return self._call("GET", f"/api/v1/models/{model_id}", parse=_model_record)

    def stop_waiting(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.http.close()

    # -- every call -------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, parse: Callable[[Any], Any] = lambda v: v) -> Any:
        """parse(the JSON answer, or None for a 404 with CivitAI's JSON error); raises
        ProviderUnavailableError, and ProviderAnswerError (with one warning) for garbage."""
        if self.settings.offline:
            raise ProviderUnavailableError(PROVIDER, "offline mode (HF_HUB_OFFLINE or [civitai] offline)")
        headers = {"Accept": "application/json"}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        for _ in range(MAX_429_TRIES):
            self.breaker.check()
            self.throttle.acquire(self._stop.wait, self.settings.max_wait)
            with self._lock:
                self.calls += 1
            try:
                answer = exchange(self.http, PROVIDER, method, self.settings.endpoint + path,
                                  self.settings.max_body, headers, body)
                if answer.status == 429:
                    self._rate_limited(answer.headers.get("retry-after"))
                    continue
                value = parse(self._judge(answer))
            except ProviderUnavailableError as e:
                self._failed(e)
                raise
            self.backoff.reset()
            self.breaker.success()
            self.last_error = None
            return value
        raise ProviderUnavailableError(PROVIDER, f"still rate limited after {MAX_429_TRIES} tries",
                                       retry_after=self.throttle.paused_for())

    def _rate_limited(self, retry_after: str | None) -> None:
        delay = parse_retry_after(retry_after)
        delay = self.backoff.next_delay() if delay is None else delay
        self.throttle.pause(delay)                  # every thread waits
        self.last_error = f"rate limited (HTTP 429): pausing {delay:.0f} s"
        log.info("CivitAI %s", self.last_error)

    def _judge(self, answer: HttpAnswer) -> Any:
        status = answer.status
        if status == 200:
            return json_body(answer, PROVIDER)
        if status == 404:
            body = json_body(answer, PROVIDER)
            if not isinstance(body, dict) or "error" not in body:
                raise ProviderAnswerError(PROVIDER, "a 404 without CivitAI's JSON error")
            return None
        if status >= 500 or status == 408:
            raise ProviderUnavailableError(PROVIDER, f"server error (HTTP {status})")
        if status in (401, 403):
            raise ProviderUnavailableError(PROVIDER, f"access refused (HTTP {status}): check CIVITAI_API_TOKEN")
        raise ProviderAnswerError(PROVIDER, f"request refused (HTTP {status}): {answer.body[:200]!r}")

    def _failed(self, error: ProviderUnavailableError) -> None:
        self.last_error = error.reason
        if error.retry_after is None:         # the breaker's and throttle's own refusals are not failures
            self.breaker.failure()
        if isinstance(error, ProviderAnswerError):
            log.warning("CivitAI answer rejected: %s; the models stay as they are and are retried later",
                        error.reason)

    def state(self) -> ServiceState:
        return service_state(offline=self.settings.offline, endpoint=self.settings.endpoint, calls=self.calls,
                             limit=self.settings.calls_per_minute, throttle=self.throttle, breaker=self.breaker,
                             last_error=self.last_error, nsfw=str(self.settings.nsfw), token=bool(self.settings.token))


class CivitaiProvider(ClientBacked):
    """Answers a batch of models with as few calls as the cache and the 100-hash batches allow."""

    name = PROVIDER

    def __init__(self, client: CivitaiClient, cache: HubCache) -> None:
        self.client, self.cache = client, cache

    def close(self) -> None:
        self.cache.close()
        self.client.close()

    def preview_image(self, match: ProviderMatch) -> CivitaiImage | None:
        """The match's first still image at or below the configured NSFW level."""
        images = [CivitaiImage(**i) for i in match.record.get("images", ())]
        return choose_preview(images, self.client.settings.preview_max_level)

    def lookup(self, models: Sequence[ModelMetadata]) -> dict[str, Answer]:
        answers: dict[str, Answer] = {}
        wanted: dict[str, list[tuple[ModelMetadata, FileEntry]]] = {}
        for meta in models:
            file = target_file(meta)
            if file is None:
                answers[meta.model_id] = NotFound(PROVIDER, "a folder model: CivitAI lists single files")
            else:
                wanted.setdefault(file.sha256.upper(), []).append((meta, file))
        found, failed = self._versions(list(wanted))
        for digest, entries in wanted.items():
            for meta, file in entries:
                answer = (LookupFailed(PROVIDER, failed[digest]) if digest in failed
                          else _answer(digest, file, found[digest]))
                answers[meta.model_id] = self._confirm_gone(meta, answer)
        return answers

    def _confirm_gone(self, meta: ModelMetadata, answer: Answer) -> Answer:
        """Not found, for a model CivitAI had proven before: its own record (GET /models/{id}) says
        whether the model was deleted or only this version unpublished."""
        state = merge.from_dict(meta.identification).get(PROVIDER)
        if not isinstance(answer, NotFound) or state is None or state.match is None or not state.match.proven:
            return answer
        model_id, version_id = state.match.record.get("model_id"), state.match.record.get("version_id")
        try:
            record = self.client.model(int(model_id))           # type: ignore[arg-type]
        except (ProviderUnavailableError, TypeError, ValueError):
            return answer                                        # merge still marks it gone
        if record is None:
            return GoneUpstream(PROVIDER, f"model {model_id} was deleted from CivitAI")
        return GoneUpstream(PROVIDER, f"version {version_id} is no longer published (model {model_id} still is)")

    def _versions(self, digests: list[str]) -> tuple[dict[str, list[CivitaiVersion]], dict[str, str]]:
        """Versions listing each hash (cached, else asked in batches); the reason for those not asked."""
        found: dict[str, list[CivitaiVersion]] = {}
        failed: dict[str, str] = {}
        ask, stale = [], {}
        for digest in digests:
            cached = self.cache.get(_key(digest))
            if cached is not None and cached.fresh:
                found[digest] = [version_from_cache(v) for v in cached.value]
            else:
                ask.append(digest)
                if cached is not None:
                    stale[digest] = cached
        size = min(self.client.settings.batch_size, MAX_BATCH)
        for chunk in (ask[i:i + size] for i in range(0, len(ask), size)):
            try:
                versions = self.client.by_hash(chunk[0]) if len(chunk) == 1 else self.client.by_hashes(chunk)
            except ProviderUnavailableError as e:
                for digest in chunk:
                    if digest in stale:             # a stale answer beats none while CivitAI is away
                        found[digest] = [version_from_cache(v) for v in stale[digest].value]
                    else:
                        failed[digest] = e.reason
                continue
            for digest in chunk:
                hits = {v.version_id: v for v in versions if files_with(v, "SHA256", digest)}
                found[digest] = list(hits.values())
                self.cache.put(_key(digest), [version_to_cache(v) for v in hits.values()], negative=not hits)
        return found, failed


def _batch(found: Any) -> list[CivitaiVersion]:
    if found is None:
        raise ProviderAnswerError(PROVIDER, "the batch endpoint answered 404")
    return parse_batch(found)


def _model_record(found: Any) -> dict[str, Any] | None:
    if found is not None and not (isinstance(found, dict) and isinstance(found.get("id"), int)):
        raise ProviderAnswerError(PROVIDER, "unexpected JSON: a model record without an id")
    return found


def _key(digest: str) -> str:
    return f"civitai:by-hash:{digest.upper()}"


def _answer(digest: str, file: FileEntry, versions: list[CivitaiVersion]) -> Answer:
    if not versions:
        return NotFound(PROVIDER, f"no CivitAI version lists SHA-256 {digest[:10]}")
    chosen = pick(versions, digest, file.size)
    if chosen is None:
        ids = ", ".join(str(v.version_id) for v in versions)
        return NotFound(PROVIDER, f"versions {ids} list SHA-256 {digest[:10]} but not exactly one with "
                                  f"size {file.size}: not recorded")
    return to_match(*chosen)


def settings_from_config(config: Config) -> CivitaiSettings:
    c = config.civitai
    return civitai_settings(endpoint=c.endpoint, offline=c.offline or not c.enabled, nsfw=c.nsfw,
                            calls_per_minute=c.calls_per_minute, timeout=c.timeout_seconds,
                            cache_ttl=c.cache_hours * 3600, negative_ttl=c.negative_cache_hours * 3600,
                            breaker_failures=c.breaker_failures, breaker_seconds=c.breaker_minutes * 60)


def build_civitai(config: Config) -> CivitaiProvider:
    """The provider from the config, with its SQLite cache (civitai-cache.db in the state folder)."""
    settings = settings_from_config(config)
    cache = HubCache(config.paths.state_dir / "civitai-cache.db", settings.cache_ttl, settings.negative_ttl)
    return CivitaiProvider(CivitaiClient(settings), cache)
