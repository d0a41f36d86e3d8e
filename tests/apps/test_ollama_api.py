"""The Ollama client's reading of Ollama's configuration and answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.apps.http_json import AppApiError, Failure
from modelshelf.apps.ollama_api import FIRST_COPYING_CREATE, OllamaApi, Version, url_from_env

from .fake_ollama import FakeOllama


@pytest.mark.parametrize("env, url", [
    (None, "http://127.0.0.1:11434"),
    ("", "http://127.0.0.1:11434"),
    ("0.0.0.0", "http://127.0.0.1:11434"),          # listening everywhere: ask it on loopback
    ("0.0.0.0:8080", "http://127.0.0.1:8080"),
    ("localhost:11435", "http://localhost:11435"),
    ("http://gpu-box", "http://gpu-box:11434"),
])
def test_ollama_host_as_ollama_reads_it(env, url):
    assert url_from_env(env) == url


def test_versions_order_and_the_copying_create_threshold():
    assert Version.parse("0.29.9") < FIRST_COPYING_CREATE <= Version.parse("0.30.0-rc3")
    assert Version.parse("v0.33.0") > FIRST_COPYING_CREATE and Version.parse("dev") is None


def test_client_against_the_fake(tmp_path: Path):
    models = tmp_path / "models"
    (models / "blobs").mkdir(parents=True)
    with FakeOllama(models, version="0.24.1") as server:
        api = OllamaApi(server.url, 2.0)
        assert api.version() == Version(0, 24, 1)
        assert api.has_blob("sha256:" + "a" * 64) is False
        assert api.names() == set() and api.delete("nothing:here") is False
        with pytest.raises(AppApiError) as caught:
            api.create("x:latest", {"x.gguf": "sha256:" + "a" * 64})       # the blob is not there
    error = caught.value
    assert error.failure is Failure.GARBAGE and error.status == 500 and "no such file" in str(error)
    assert "\n" not in str(error) and str(error).startswith(f"Ollama at {server.url}: POST /api/create")


def test_a_4xx_answer_is_refused_and_not_retried(tmp_path: Path):
    with FakeOllama(tmp_path) as server, pytest.raises(AppApiError) as caught:
        OllamaApi(server.url, 2.0).create("Bad Name!", {})
    assert caught.value.failure is Failure.REFUSED and not caught.value.retryable
    assert "invalid model name" in str(caught.value)
