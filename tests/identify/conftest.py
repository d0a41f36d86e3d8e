from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from modelshelf.hub.cache import HubCache
from modelshelf.identify.civitai import CivitaiClient, CivitaiProvider, civitai_settings
from modelshelf.library.metadata import ClassificationRecord, FileEntry, ModelMetadata, Source, utc_now

from ..helpers import digests
from .fake_civitai import FakeCivitai


@pytest.fixture
def civitai(monkeypatch: pytest.MonkeyPatch):
    """A fake CivitAI that the provider reaches through $MODELSHELF_CIVITAI_ENDPOINT."""
    fake = FakeCivitai()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)       # conftest sets it for the Hub
    monkeypatch.delenv("CIVITAI_API_TOKEN", raising=False)
    monkeypatch.setenv("MODELSHELF_CIVITAI_ENDPOINT", fake.endpoint)
    yield fake
    fake.stop()


def make_provider(tmp_path: Path, cache_name: str | None = None, **kw) -> CivitaiProvider:
    kw.setdefault("timeout", 2.0)
    settings = civitai_settings(**kw)
    cache = HubCache(tmp_path / (cache_name or f"civitai-{random.random()}.db"), settings.cache_ttl,
                     settings.negative_ttl)
    return CivitaiProvider(CivitaiClient(settings), cache)


def meta_of(path: Path, family: str = "sdxl", model_type: str = "lora") -> ModelMetadata:
    """The metadata an import of this real file records (hashes read from its bytes)."""
    b3, sha = digests(path)
    return _meta(path.name, path.stat().st_size, b3, sha, family, model_type)


def fake_meta(i: int, family: str = "sdxl") -> ModelMetadata:
    """Metadata for a model we only need the hashes of (bulk tests)."""
    sha = hashlib.sha256(f"model {i}".encode()).hexdigest()
    return _meta(f"model-{i}.safetensors", 1_000_000 + i, hashlib.sha256(sha.encode()).hexdigest(), sha,
                 family, "lora")


def _meta(name: str, size: int, b3: str, sha: str, family: str, model_type: str) -> ModelMetadata:
    now = utc_now()
    return ModelMetadata(model_id=b3[:16], model_type=model_type, family=family, cleaned_name=name.split(".")[0],
                         format="safetensors", files=(FileEntry(name, size, b3, sha),), blake3=b3, sha256=sha,
                         size_bytes=size, added_at=now, updated_at=now, source=Source(f"/in/{name}", "copy"),
                         classification=ClassificationRecord("tensor_names", 0.9, "test"), primary_file=name)
