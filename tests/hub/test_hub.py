"""Hub identification with the real huggingface_hub client against a fake Hub on 127.0.0.1."""

from __future__ import annotations

import json
import random
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from modelshelf.config import ImportMode
from modelshelf.hub import (
    HubCache,
    HubClient,
    HubSettings,
    SlidingWindowThrottle,
    clean_name,
    identify,
    settings_from_env,
)
from modelshelf.hub.transport import install_strict_transport, parse_retry_after
from modelshelf.identify import HubProvider
from modelshelf.identify.worker import LookupOutcome, LookupWorker
from modelshelf.ingest import ImportJob
from modelshelf.library import read_metadata
from modelshelf.shelf import Shelf

from ..helpers import digests, wait_for
from ..models import write_gguf, write_safetensors
from .fake_hub import FakeHub, FakeRepo


@pytest.fixture
def hub():
    fake = FakeHub()
    yield fake
    fake.stop()


def make_client(hub: FakeHub, tmp_path: Path, **kw) -> HubClient:
    settings = HubSettings(endpoint=hub.endpoint, timeout=kw.pop("timeout", 2.0), max_wait=kw.pop("max_wait", 0.0),
                           **kw)
    install_strict_transport(settings.timeout)
    return HubClient(settings, HubCache(tmp_path / f"cache-{random.random()}.db", settings.cache_ttl,
                                        settings.negative_ttl))


def imported(shelf: Shelf, path: Path) -> str:
    return shelf.importer().run(ImportJob(path, ImportMode.COPY)).model_id


def repo_file(path: Path) -> tuple[int, str]:
    return path.stat().st_size, digests(path)[1]


def metadata(shelf: Shelf, model_id: str):
    return read_metadata(shelf.library.root / shelf.index.get(model_id).path / "metadata.json")


def test_sha256_match_enriches_metadata(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl")
    hub.add(FakeRepo("someone/detail-tweaker-xl", {"detail-tweaker-xl.safetensors": repo_file(src),
                                                  "README.md": (100, None)}))
    model_id = imported(shelf, src)
    client = make_client(hub, tmp_path)
    assert LookupWorker([HubProvider(client)], shelf.writer).lookup(model_id) is LookupOutcome.MATCHED
    meta = metadata(shelf, model_id)
    assert (meta.hub["repo_id"], meta.hub["method"], meta.hub["confidence"]) == ("someone/detail-tweaker-xl",
                                                                               "sha256", 1.0)
    assert meta.hub["license"] == "apache-2.0" and meta.hub["base_model"] == "org/base"
    assert meta.hub["pipeline_tag"] == "text-to-image" and "safetensors" in meta.hub["tags"]
    assert meta.hub["download_url"] == (f"{hub.endpoint}/someone/detail-tweaker-xl/resolve/"
                                        f"{'0123456789abcdef' * 2}01234567/detail-tweaker-xl.safetensors")
    assert (meta.official_name, meta.model_type, meta.family) == ("detail-tweaker-xl", "lora", "sdxl")
    assert (meta.pending_online_lookup, meta.lookup_attempts) == (False, 1)
    assert shelf.index.get(model_id).hub_repo_id == "someone/detail-tweaker-xl"
    assert hub.api_calls() == 2                  # of a budget of 4


def test_name_only_match_is_recorded_with_lower_confidence(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "flux_lora.safetensors", "lora_flux")
    hub.add(FakeRepo("x/flux-lora", {"flux_lora.safetensors": (123, "f" * 64)}, pipeline_tag="text-classification"))
    model_id = imported(shelf, src)
    outcome = LookupWorker([HubProvider(make_client(hub, tmp_path))], shelf.writer).lookup(model_id)
    meta = metadata(shelf, model_id)
    assert outcome is LookupOutcome.GUESSED
    assert (meta.hub["method"], meta.hub["confidence"]) == ("filename", 0.5)
    assert "SHA-256 differs" in meta.hub["reason"]
    assert meta.official_name is None and (meta.model_type, meta.family) == ("lora", "flux")  # local facts kept


def test_no_match_is_cached_negatively(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    model_id = imported(shelf, write_safetensors(tmp_path / "obscure.safetensors", "clip_l"))
    client = make_client(hub, tmp_path)
    assert identify(metadata(shelf, model_id), client) is None
    calls = hub.api_calls()
    assert identify(metadata(shelf, model_id), client) is None
    assert hub.api_calls() == calls == 1                       # the empty search answer was cached


def test_only_the_second_candidate_verifies(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "realvis.safetensors", "checkpoint_sdxl")
    hub.add(FakeRepo("popular/realvis", {"realvis.safetensors": (1, "0" * 64)}, downloads=1000))
    hub.add(FakeRepo("original/realvis", {"realvis.safetensors": repo_file(src)}, downloads=5))
    model_id = imported(shelf, src)
    match = identify(metadata(shelf, model_id), make_client(hub, tmp_path))
    assert (match.repo_id, match.method) == ("original/realvis", "sha256")
    assert hub.api_calls() == 3                                  # 1 search + 2 verifications


def test_budget_is_four_calls_with_a_header_name_fallback(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    src = write_gguf(tmp_path / "model.Q4_K_M.gguf", "llama", name="Meta-Llama-3-8B-Instruct")
    hub.add(FakeRepo("a/Meta-Llama-3-8B-Instruct-GGUF", {"model.Q4_K_M.gguf": (1, "1" * 64)}, downloads=9))
    hub.add(FakeRepo("b/Meta-Llama-3-8B-Instruct-GGUF", {"model.Q4_K_M.gguf": (2, "2" * 64)}, downloads=8))
    hub.add(FakeRepo("c/Meta-Llama-3-8B-Instruct-GGUF", {"model.Q4_K_M.gguf": repo_file(src)}, downloads=1))
    model_id = imported(shelf, src)
    hub.repos["unrelated/model"] = FakeRepo("unrelated/model", {"other.bin": (1, None)})
    match = identify(metadata(shelf, model_id), make_client(hub, tmp_path))
    assert hub.api_calls() == 4 and match.method == "filename"  # c would verify, but the budget is spent


def test_stopping_the_worker_does_not_wait_for_the_throttle(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    ids = [imported(shelf, write_safetensors(tmp_path / f"m{i}.safetensors", "clip_l", salt=i)) for i in range(4)]
    client = make_client(hub, tmp_path, calls_per_minute=1, max_wait=60.0)   # the 2nd call waits a minute
    worker = LookupWorker([HubProvider(client)], shelf.writer)
    worker.start()
    for model_id in ids:
        worker.submit(model_id)
    wait_for(lambda: hub.api_calls() >= 1, 10, "the first lookup's call")
    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 5                       # not the minute the throttle asks
    assert hub.api_calls() == 1 and len(shelf.index.pending_ids()) >= 3   # the rest stay pending


def test_429_pauses_every_thread_for_retry_after(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    model_id = imported(shelf, write_safetensors(tmp_path / "m.safetensors", "clip_l"))
    hub.forced.append((429, {"Retry-After": "7"}))
    client = make_client(hub, tmp_path)
    worker = LookupWorker([HubProvider(client)], shelf.writer)
    assert worker.lookup(model_id) is LookupOutcome.FAILED
    assert 6 <= client.throttle.paused_for() <= 7 and client.state().state == "throttled"
    calls = hub.api_calls()
    assert worker.lookup(model_id) is LookupOutcome.FAILED       # no call while paused
    assert hub.api_calls() == calls
    meta = metadata(shelf, model_id)
    assert (meta.pending_online_lookup, meta.lookup_attempts) == (True, 2) and meta.last_lookup_attempt


def test_retry_after_as_an_http_date() -> None:
    now = time.time()
    assert 29 <= parse_retry_after(formatdate(now + 30, usegmt=True), now) <= 31
    assert parse_retry_after("120") == 120 and parse_retry_after("soon") is None


def test_server_errors_open_the_breaker(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    model_id = imported(shelf, write_safetensors(tmp_path / "m.safetensors", "clip_l"))
    client = make_client(hub, tmp_path, breaker_failures=3, breaker_seconds=600)
    worker = LookupWorker([HubProvider(client)], shelf.writer)
    hub.forced.extend([(500, {})] * 3)
    for _ in range(3):
        assert worker.lookup(model_id) is LookupOutcome.FAILED
    assert client.state().state == "breaker_open" and "HTTP 500" in client.state().last_error
    assert worker.lookup(model_id) is LookupOutcome.FAILED
    assert hub.api_calls() == 3                                  # the open breaker made no call


def test_slow_answer_hits_the_timeout(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    model_id = imported(shelf, write_safetensors(tmp_path / "m.safetensors", "clip_l"))
    hub.forced.append(3.0)
    client = make_client(hub, tmp_path, timeout=0.5)
    started = time.monotonic()
    assert LookupWorker([HubProvider(client)], shelf.writer).lookup(model_id) is LookupOutcome.FAILED
    assert time.monotonic() - started < 2.5 and "no answer within" in client.last_error


def test_server_down_then_up_pending_lookup_succeeds(shelf: Shelf, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "later.safetensors", "vae_flux")
    model_id = imported(shelf, src)
    first = FakeHub()
    port = first.port
    first.stop()                                                 # connection refused from now on
    client = HubClient(HubSettings(endpoint=f"http://127.0.0.1:{port}", timeout=2.0, max_wait=0.0),
                       HubCache(tmp_path / "c.db", 3600, 60))
    worker = LookupWorker([HubProvider(client)], shelf.writer)
    assert worker.lookup(model_id) is LookupOutcome.FAILED and "cannot connect" in client.last_error
    again = FakeHub(port)
    try:
        again.add(FakeRepo("o/later", {"later.safetensors": repo_file(src)}))
        worker.start()
        assert worker.submit_pending(force=True) == 1            # what `retry-lookups` does
        wait_for(lambda: not metadata(shelf, model_id).pending_online_lookup, 20, "the retried lookup")
        assert metadata(shelf, model_id).hub["method"] == "sha256"
    finally:
        worker.stop()
        again.stop()


def test_offline_mode_makes_no_call(shelf: Shelf, hub: FakeHub, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = settings_from_env(endpoint=hub.endpoint)
    client = HubClient(settings, HubCache(tmp_path / "c.db", 3600, 60))
    model_id = imported(shelf, write_safetensors(tmp_path / "m.safetensors", "clip_l"))
    meta = shelf.library.root / shelf.index.get(model_id).path / "metadata.json"
    before = meta.read_bytes()
    assert LookupWorker([HubProvider(client)], shelf.writer).lookup(model_id) is LookupOutcome.SKIPPED
    assert hub.api_calls() == 0 and client.state().state == "offline"
    assert meta.read_bytes() == before              # offline by choice: not a failed attempt, still pending
    assert shelf.index.pending_ids() == [model_id]


def test_environment_sets_endpoint_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    s = settings_from_env()
    assert (s.endpoint, s.token, s.offline) == ("http://127.0.0.1:9", "hf_test", False)
    assert settings_from_env(endpoint="http://x").endpoint == "http://x"


def test_throttle_never_exceeds_the_limit_in_any_window() -> None:
    now = [0.0]
    throttle = SlidingWindowThrottle(60, 60.0, clock=lambda: now[0])
    rng = random.Random(7)
    calls = []
    while len(calls) < 1000:
        now[0] += rng.expovariate(5.0)                           # callers far faster than 1/s
        delay = throttle.delay()
        if delay == 0:
            calls.append(now[0])
        else:
            now[0] += delay * rng.random()                       # some callers wake early: still refused
    for i, t in enumerate(calls):
        in_window = sum(1 for u in calls[i:i + 61] if u < t + 60.0)
        assert in_window <= 60
    assert calls[-1] - calls[0] >= 60.0 * (1000 // 60 - 1)
    throttle.pause(30)
    assert 29.9 < throttle.delay() <= 30


def test_clean_names() -> None:
    assert clean_name("Llama-3-8B-Instruct.Q4_K_M.gguf") == "Llama-3-8B-Instruct"
    assert clean_name("model-00001-of-00004.safetensors") == "model"
    assert clean_name("flux1-dev-fp8.safetensors") == "flux1-dev"
    assert clean_name("juggernautXL_v9.safetensors") == "juggernautXL"
    assert clean_name("qwen2.5-7b-instruct-iq4_xs.gguf") == "qwen2.5-7b-instruct"


def test_batch_of_fifty_files_from_ten_repos_is_bounded_by_the_cache(shelf: Shelf, hub: FakeHub,
                                                                       tmp_path: Path) -> None:
    quants = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q8_0"]
    ids = []
    for r in range(10):
        files = {}
        for q, quant in enumerate(quants):
            path = write_gguf(tmp_path / f"Model{r}-7B.{quant}.gguf", "llama", salt=r * 10 + q)
            files[path.name] = repo_file(path)
            ids.append(imported(shelf, path))
        hub.add(FakeRepo(f"org/Model{r}-7B-GGUF", files))
    client = make_client(hub, tmp_path)
    worker = LookupWorker([HubProvider(client)], shelf.writer)
    outcomes = [worker.lookup(m) for m in ids]
    assert outcomes == [LookupOutcome.MATCHED] * 50
    print(f"50 files from 10 repos: {hub.api_calls()} Hub calls")
    assert hub.api_calls() == 20                                 # 1 search + 1 file list per repo
    assert json.loads(json.dumps(client.state().as_json()))["calls"] == 20


def test_failed_lookups_back_off_per_model(shelf: Shelf, hub: FakeHub, tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    from modelshelf.identify.worker import next_retry
    model_id = imported(shelf, write_safetensors(tmp_path / "m.safetensors", "clip_l"))
    hub.forced.append((408, {}))
    worker = LookupWorker([HubProvider(make_client(hub, tmp_path))], shelf.writer)
    assert worker.lookup(model_id) is LookupOutcome.FAILED and hub.api_calls() == 1   # 408 not retried inside
    meta = metadata(shelf, model_id)
    first = datetime.fromisoformat(meta.last_lookup_attempt)
    assert next_retry(meta) == first + timedelta(minutes=15)
    assert next_retry(meta.replace(lookup_attempts=3)) == first + timedelta(minutes=60)
    assert next_retry(meta.replace(lookup_attempts=30)) == first + timedelta(hours=24)
    assert worker.submit_pending() == 0                       # not due yet
    assert worker.submit_pending(force=True) == 1             # `retry-lookups` does not wait
