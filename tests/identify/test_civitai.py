"""CivitAI identification over real sockets against a fake CivitAI speaking its real endpoints."""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

import pytest
from PIL import Image

from modelshelf.config import NsfwChoice, config_from_dict
from modelshelf.identify import LookupFailed, Method, NotFound, ProviderMatch
from modelshelf.identify.civitai import DOMAINS, build_civitai, civitai_settings
from modelshelf.identify.civitai_records import CivitaiImage
from modelshelf.identify.errors import PreviewRejectedError
from modelshelf.identify.previews import PreviewDownloader, choose_preview, save_preview

from ..models import write_safetensors
from .conftest import fake_meta, make_provider, meta_of
from .fake_civitai import FakeCivitai, FakeFile, FakeVersion


def version_for(meta, version_id: int = 34, model_id: int = 12, **kw) -> FakeVersion:
    f = meta.files[0]
    return FakeVersion(version_id, model_id, "Detail Tweaker XL", "v1.0",
                       [FakeFile(f.name, f.size, f.sha256, f.blake3)], **kw)


def png(size: tuple[int, int] = (8, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_one_sha256_match_records_every_field(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = meta_of(write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl"))
    civitai.add(version_for(meta))
    answer = make_provider(tmp_path).lookup([meta])[meta.model_id]
    assert isinstance(answer, ProviderMatch)
    assert (answer.provider, answer.method, answer.confidence, answer.ref) == ("civitai", Method.SHA256, 1.0,
                                                                              "civitai:12@34")
    assert (answer.name, answer.base_model, answer.family) == ("Detail Tweaker XL", "SDXL 1.0", "sdxl")
    assert answer.trained_words == ("detailed", "sharp focus")
    r = answer.record
    assert (r["model_id"], r["version_id"], r["model_name"], r["version_name"], r["type"]) == (
        12, 34, "Detail Tweaker XL", "v1.0", "LORA")
    assert r["air"] == "urn:air:sdxl:lora:civitai:12@34" and r["nsfw_level"] == 1
    assert r["file_hashes"]["SHA256"] == meta.sha256.upper()
    assert r["file_hashes"]["AutoV2"] == meta.sha256[:10].upper()
    assert r["file_hashes"]["BLAKE3"] == meta.blake3.upper()
    assert answer.download_url == f"{civitai.endpoint}/api/download/models/34"
    calls = civitai.api_calls()
    assert [(c.method, c.path) for c in calls] == [("GET", f"/api/v1/model-versions/by-hash/{meta.sha256.upper()}")]
    assert "Authorization" not in calls[0].headers


def test_the_token_comes_from_the_environment_only(civitai: FakeCivitai, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", "secret-token")
    make_provider(tmp_path).lookup([fake_meta(1)])
    assert civitai.api_calls()[0].headers["Authorization"] == "Bearer secret-token"
    with pytest.raises(Exception, match="unknown key"):
        config_from_dict({"civitai": {"token": "x"}})


def test_150_pending_models_cost_two_calls(civitai: FakeCivitai, tmp_path: Path) -> None:
    metas = [fake_meta(i) for i in range(149)]
    for i, meta in enumerate(metas):
        civitai.add(version_for(meta, version_id=1000 + i, model_id=500 + i))
    odd = fake_meta(999)                  # a version without a primary file: CivitAI answers null for it
    civitai.add(FakeVersion(9, 9, "No primary", "v1", [FakeFile("x", odd.size_bytes, odd.sha256, primary=False)]))
    answers = make_provider(tmp_path).lookup([*metas[:99], odd, *metas[99:]])
    assert isinstance(answers[odd.model_id], NotFound)
    assert all(isinstance(answers[m.model_id], ProviderMatch) for m in metas)
    assert {answers[m.model_id].record["version_id"] for m in metas} == set(range(1000, 1149))
    calls = civitai.api_calls()
    assert [(c.method, c.path, len(c.body)) for c in calls] == [
        ("POST", "/api/v1/model-versions/by-hash", 100), ("POST", "/api/v1/model-versions/by-hash", 50)]
    assert all(len(h) == 64 for c in calls for h in c.body)


def test_not_found_is_cached_as_such(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(7)
    first = make_provider(tmp_path, "cache.db").lookup([meta])[meta.model_id]
    assert isinstance(first, NotFound) and "no CivitAI version" in first.reason
    assert len(civitai.api_calls()) == 1
    again = make_provider(tmp_path, "cache.db").lookup([meta])[meta.model_id]   # a new process, same cache file
    assert isinstance(again, NotFound)
    assert len(civitai.api_calls()) == 1


def test_an_expired_not_found_is_asked_again(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(8)
    make_provider(tmp_path, "cache.db", negative_ttl=0.0).lookup([meta])
    civitai.add(version_for(meta))
    answer = make_provider(tmp_path, "cache.db", negative_ttl=0.0).lookup([meta])[meta.model_id]
    assert isinstance(answer, ProviderMatch) and len(civitai.api_calls()) == 2


def test_a_hash_on_several_versions_takes_the_one_whose_size_matches(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(3)
    f = meta.files[0]
    civitai.add(FakeVersion(40, 4, "Other upload", "v1", [FakeFile(f.name, f.size + 50_000, f.sha256)]))
    civitai.add(FakeVersion(41, 4, "Right one", "v2", [FakeFile(f.name, f.size, f.sha256)]))
    answer = make_provider(tmp_path).lookup([meta, fake_meta(4)])[meta.model_id]
    assert isinstance(answer, ProviderMatch) and answer.record["version_id"] == 41


def test_a_hash_on_two_versions_with_the_same_size_matches_none(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(5)
    f = meta.files[0]
    civitai.add(FakeVersion(50, 6, "Reupload A", "v1", [FakeFile(f.name, f.size, f.sha256)]))
    civitai.add(FakeVersion(51, 7, "Reupload B", "v1", [FakeFile(f.name, f.size, f.sha256)]))
    answer = make_provider(tmp_path).lookup([meta, fake_meta(6)])[meta.model_id]
    assert isinstance(answer, NotFound) and "50, 51" in answer.reason


def test_429_without_retry_after_backs_off_1_then_2_seconds(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(9)
    civitai.add(version_for(meta))
    civitai.force(429, times=2)
    answer = make_provider(tmp_path).lookup([meta])[meta.model_id]
    assert isinstance(answer, ProviderMatch)
    at = [c.at for c in civitai.api_calls()]
    assert len(at) == 3
    first, second = at[1] - at[0], at[2] - at[1]
    assert first >= 1.0 and second >= 2.0 and second > first + 0.5, (first, second)   # 1 s, then 2 s


def test_429_with_retry_after_waits_that_long(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(10)
    civitai.add(version_for(meta))
    civitai.force(429, headers={"Retry-After": "2"})
    answer = make_provider(tmp_path).lookup([meta])[meta.model_id]
    assert isinstance(answer, ProviderMatch)
    at = [c.at for c in civitai.api_calls()]
    assert len(at) == 2 and at[1] - at[0] >= 2.0


def test_429_backoff_is_shared_by_every_thread(civitai: FakeCivitai, tmp_path: Path) -> None:
    """A 429 seen by one thread's lookup pauses another thread's too, without it ever calling."""
    provider = make_provider(tmp_path, max_wait=0.0, backoff_first=30.0)   # give up instead of waiting
    civitai.force(429)
    assert isinstance(provider.lookup([fake_meta(11)])[fake_meta(11).model_id], LookupFailed)
    answers: dict = {}
    other = threading.Thread(target=lambda: answers.update(provider.lookup([fake_meta(12)])))
    other.start()
    other.join()
    answer = answers[fake_meta(12).model_id]
    assert isinstance(answer, LookupFailed) and "throttled" in answer.reason
    assert len(civitai.api_calls()) == 1
    assert provider.state().state == "throttled"


@pytest.mark.fault(3)
def test_server_errors_open_the_breaker(civitai: FakeCivitai, tmp_path: Path) -> None:
    provider = make_provider(tmp_path, breaker_failures=2)
    civitai.force(503, times=5)
    for i in range(2):
        answer = provider.lookup([fake_meta(20 + i)])[fake_meta(20 + i).model_id]
        assert isinstance(answer, LookupFailed) and "HTTP 503" in answer.reason
    answer = provider.lookup([fake_meta(22)])[fake_meta(22).model_id]
    assert isinstance(answer, LookupFailed) and "circuit breaker open" in answer.reason
    assert len(civitai.api_calls()) == 2
    assert provider.state().state == "breaker_open"


def test_offline_mode_makes_no_call(civitai: FakeCivitai, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    provider = make_provider(tmp_path)
    assert provider.offline() and provider.state().state == "offline"
    assert isinstance(provider.lookup([fake_meta(30)])[fake_meta(30).model_id], LookupFailed)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    config = config_from_dict({"paths": {"state_dir": str(tmp_path / "state")}, "civitai": {"offline": True}})
    configured = build_civitai(config)
    assert configured.offline()
    configured.lookup([fake_meta(31)])
    assert civitai.api_calls() == []


def test_endpoint_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSHELF_CIVITAI_ENDPOINT", raising=False)
    assert civitai_settings().endpoint == "https://civitai.com" == DOMAINS[NsfwChoice.HIDE]
    assert civitai_settings(nsfw=NsfwChoice.SHOW).endpoint == "https://civitai.red"
    assert civitai_settings(endpoint="https://mirror.example/").endpoint == "https://mirror.example"
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", "http://127.0.0.1:9")
    assert civitai_settings(endpoint="https://mirror.example").endpoint == "http://127.0.0.1:9"


GARBAGE = {
    "html_error_page": (200, b"<!DOCTYPE html><html><body>Just a moment...</body></html>", "text/html"),
    "html_as_json": (200, b"<html>oops</html>", "application/json"),
    "wrong_shape": (200, b'{"items": []}', "application/json"),
    "version_without_id": (200, b'[{"name": "x"}]', "application/json"),
    "huge_body": (200, b"[" + b" " * (5 << 20) + b"]", "application/json"),
    "html_404": (404, b"<html>not here</html>", "text/html"),
}


@pytest.mark.bad_input
@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_is_rejected_with_one_warning(civitai: FakeCivitai, tmp_path: Path, kind: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    status, body, content_type = GARBAGE[kind]
    metas = [fake_meta(40), fake_meta(41)]
    civitai.add(version_for(metas[0]))
    civitai.force(status, body, content_type=content_type)
    provider = make_provider(tmp_path)
    with caplog.at_level(logging.INFO):
        answers = provider.lookup(metas)
    assert all(isinstance(a, LookupFailed) for a in answers.values())
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "retried later" in warnings[0].getMessage()
    retried = provider.lookup(metas)                     # nothing was cached: asked again, and now answered
    assert isinstance(retried[metas[0].model_id], ProviderMatch) and isinstance(retried[metas[1].model_id], NotFound)


# -- previews -------------------------------------------------------------------------------------
def images_version(meta, images: list[dict]) -> FakeVersion:
    return version_for(meta, images=images)


def test_first_preview_is_saved_beside_the_model(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = meta_of(write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl"))
    civitai.images.update({"nsfw.jpeg": png(), "clip.mp4": b"\x00\x00\x00\x18ftypmp42", "ok.png": png((4, 6))})
    civitai.add(images_version(meta, [{"name": "nsfw.jpeg", "nsfwLevel": 8}, {"name": "clip.mp4", "type": "video"},
                                      {"name": "ok.png", "nsfwLevel": 2}]))
    provider = make_provider(tmp_path)
    match = provider.lookup([meta])[meta.model_id]
    image = provider.preview_image(match)
    assert image is not None and image.url.endswith("/images/ok.png")     # R/X and videos skipped
    folder = tmp_path / "model"
    folder.mkdir()
    downloader = PreviewDownloader(timeout=2.0)
    try:
        saved = save_preview(folder, "detail-tweaker-xl.safetensors", image.url, downloader)
    finally:
        downloader.close()
    assert saved == folder / "detail-tweaker-xl.preview.png"
    assert Image.open(saved).size == (4, 6)
    assert sorted(p.name for p in folder.iterdir()) == ["detail-tweaker-xl.preview.png"]   # no temp left


def test_show_nsfw_takes_the_first_image_of_any_level() -> None:
    images = [CivitaiImage("u/1", 8, "image"), CivitaiImage("u/2", 1, "image")]
    assert choose_preview(images, max_level=16).url == "u/1"
    assert choose_preview(images, max_level=2).url == "u/2"
    assert choose_preview([CivitaiImage("u/3", 0, "image")], max_level=16) is None    # unrated: never


@pytest.mark.bad_input(3)
@pytest.mark.parametrize("name, data, cap, reason", [
    ("page.png", b"<!DOCTYPE html><html>denied</html>", 1 << 20, "HTML"),
    ("clip.png", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100, 1 << 20, "video"),
    ("big.png", png() + b"\x00" * 20_000, 10_000, "cap"),
])
def test_a_preview_that_is_not_an_image_or_too_large_is_rejected(civitai: FakeCivitai, tmp_path: Path, name: str,
                                                                  data: bytes, cap: int, reason: str) -> None:
    civitai.images[name] = data
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "m.preview.png").write_bytes(b"the old preview")
    downloader = PreviewDownloader(timeout=2.0)
    try:
        with pytest.raises(PreviewRejectedError, match=reason) as e:
            save_preview(folder, "m.safetensors", f"{civitai.endpoint}/images/{name}", downloader, max_bytes=cap)
    finally:
        downloader.close()
    assert str(folder) in str(e.value)
    assert sorted(p.name for p in folder.iterdir()) == ["m.preview.png"]
    assert (folder / "m.preview.png").read_bytes() == b"the old preview"


def test_offline_preview_download_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PreviewRejectedError, match="offline"):
        save_preview(tmp_path, "m.safetensors", "http://127.0.0.1:9/x.png", PreviewDownloader(offline=True))


def test_the_models_own_record_and_a_deleted_model(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(60)
    civitai.add(version_for(meta, model_id=77))
    client = make_provider(tmp_path).client
    record = client.model(77)
    assert record["tags"] == ["style", "detail"] and record["modelVersions"][0]["id"] == 34
    civitai.versions[34].published = False
    assert client.model(77) is None
