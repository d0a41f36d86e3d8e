"""The lookup worker with both providers over real sockets, writing through the library writer into
real metadata.json files and models.db; the `identify`, `show` and `search` commands on top."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.config import ImportMode
from modelshelf.hub import HubCache, HubClient, HubSettings
from modelshelf.hub.transport import install_strict_transport
from modelshelf.identify import HubProvider, PreviewDownloader
from modelshelf.identify.previews import PreviewSaver
from modelshelf.identify.view import identification_view
from modelshelf.identify.worker import LookupOutcome, LookupWorker
from modelshelf.ingest import ImportJob
from modelshelf.library import read_metadata
from modelshelf.shelf import Shelf

from ..helpers import digests, wait_for
from ..hub.fake_hub import FakeHub, FakeRepo
from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess
from .conftest import make_provider
from .fake_civitai import FakeCivitai, FakeFile, FakeVersion
from .test_civitai import png


@pytest.fixture
def hub():
    fake = FakeHub()
    yield fake
    fake.stop()


def imported(shelf: Shelf, path: Path) -> str:
    return shelf.importer().run(ImportJob(path, ImportMode.COPY)).model_id


def metadata_file(shelf: Shelf, model_id: str) -> Path:
    return shelf.library.folder(shelf.index.get(model_id).path) / "metadata.json"


def civitai_version(src: Path, images: list[dict] | None = None, **kw) -> FakeVersion:
    _, sha = digests(src)
    return FakeVersion(34, 12, "Detail Tweaker XL", "v1.0", [FakeFile(src.name, src.stat().st_size, sha)],
                       images=images or [], **kw)


def worker_for(shelf: Shelf, tmp_path: Path, hub: FakeHub | None = None, previews: bool = True,
               **civitai_kw) -> LookupWorker:
    providers: list = [make_provider(tmp_path, **civitai_kw)]
    if hub is not None:
        settings = HubSettings(endpoint=hub.endpoint, timeout=2.0, max_wait=0.0)
        install_strict_transport(settings.timeout)
        providers.append(HubProvider(HubClient(settings, HubCache(tmp_path / f"h{random.random()}.db", 60, 60))))
    saver = PreviewSaver(shelf.writer, PreviewDownloader(timeout=2.0), max_level=2) if previews else None
    return LookupWorker(providers, shelf.writer, saver)


def test_a_civitai_proof_is_recorded_and_the_hub_not_asked(shelf: Shelf, civitai: FakeCivitai, hub: FakeHub,
                                                           tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl")
    civitai.images["p.png"] = png((5, 7))
    civitai.add(civitai_version(src, images=[{"name": "p.png", "nsfwLevel": 1}]))
    model_id = imported(shelf, src)
    worker = worker_for(shelf, tmp_path, hub)
    try:
        assert worker.lookup(model_id) is LookupOutcome.MATCHED
    finally:
        worker.close()
    raw = json.loads(metadata_file(shelf, model_id).read_bytes())
    assert raw["schema_version"] == 2 and raw["hashes"]["autov2"] == digests(src)[1][:10].upper()
    civitai_said = raw["identification"]["civitai"]
    assert civitai_said["status"] == "matched" and civitai_said["match"]["ref"] == "civitai:12@34"
    assert civitai_said["match"]["trained_words"] == ["detailed", "sharp focus"]
    assert "hub" not in raw["identification"] and hub.api_calls() == 0        # proven already: not asked
    meta = read_metadata(metadata_file(shelf, model_id))
    assert (meta.official_name, meta.family, meta.family_source) == ("Detail Tweaker XL", "sdxl", "local+civitai")
    assert meta.pending_online_lookup is False and meta.lookup_attempts == 1
    preview = metadata_file(shelf, model_id).parent / "detail-tweaker-xl.preview.png"
    assert meta.preview == preview.name and preview.read_bytes() == civitai.images["p.png"]
    live = shelf.index.dump()
    shelf.writer.rebuild()
    assert shelf.index.dump() == live                                           # a rebuild equals the live index


def test_civitai_not_found_falls_through_to_the_hub(shelf: Shelf, civitai: FakeCivitai, hub: FakeHub,
                                                    tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "epic_lora.safetensors", "lora_sdxl")
    hub.add(FakeRepo("artist/epic_lora", {"epic_lora.safetensors": (src.stat().st_size, digests(src)[1])}))
    model_id = imported(shelf, src)
    worker = worker_for(shelf, tmp_path, hub)
    try:
        assert worker.lookup(model_id) is LookupOutcome.MATCHED
    finally:
        worker.close()
    meta = read_metadata(metadata_file(shelf, model_id))
    assert {k: v["status"] for k, v in meta.identification.items()} == {"civitai": "not_found", "hub": "matched"}
    assert meta.hub["repo_id"] == "artist/epic_lora" and shelf.index.get(model_id).hub_repo_id == "artist/epic_lora"
    assert (meta.pending_online_lookup, meta.preview) == (False, None)


@pytest.mark.fault
def test_civitai_down_keeps_the_model_pending_with_the_hubs_guess(shelf: Shelf, civitai: FakeCivitai, hub: FakeHub,
                                                                   tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "flux_lora.safetensors", "lora_flux")
    hub.add(FakeRepo("x/flux-lora", {"flux_lora.safetensors": (123, "f" * 64)}))
    model_id = imported(shelf, src)
    civitai.force(503)
    worker = worker_for(shelf, tmp_path, hub)
    try:
        assert worker.lookup(model_id) is LookupOutcome.GUESSED
    finally:
        worker.close()
    meta = read_metadata(metadata_file(shelf, model_id))
    assert meta.pending_online_lookup is True and meta.lookup_attempts == 1      # CivitAI is asked again later
    said = meta.identification
    assert (said["civitai"]["status"], said["civitai"]["last_error"]) == ("failed", "server error (HTTP 503)")
    assert said["hub"]["match"]["method"] == "name" and meta.official_name is None
    assert meta.family == "flux" and meta.family_source == "local"


def test_a_model_deleted_upstream_keeps_its_metadata(shelf: Shelf, civitai: FakeCivitai, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "soon-gone.safetensors", "lora_sdxl")
    civitai.add(civitai_version(src))
    model_id = imported(shelf, src)
    worker = worker_for(shelf, tmp_path, previews=False, cache_ttl=0.0, negative_ttl=0.0)
    try:
        worker.lookup(model_id)
        civitai.versions[34].published = False
        assert worker.lookup(model_id) is LookupOutcome.NOT_FOUND
    finally:
        worker.close()
    meta = read_metadata(metadata_file(shelf, model_id))
    state = meta.identification["civitai"]
    assert state["status"] == "gone" and state["gone_since"] and state["match"]["record"]["version_id"] == 34
    assert state["note"] == "model 12 was deleted from CivitAI"                 # its own record says so
    assert [c.path for c in civitai.api_calls()][-1] == "/api/v1/models/12"
    assert meta.official_name == "Detail Tweaker XL" and meta.family_source == "local+civitai"
    assert meta.lookup_attempts == 2 and not meta.pending_online_lookup


@pytest.mark.bad_input
def test_a_rejected_preview_leaves_the_model_as_it_was(shelf: Shelf, civitai: FakeCivitai, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    src = write_safetensors(tmp_path / "m.safetensors", "lora_sdxl")
    civitai.images["p.png"] = b"<!DOCTYPE html><html>login</html>"
    civitai.add(civitai_version(src, images=[{"name": "p.png", "nsfwLevel": 1}]))
    model_id = imported(shelf, src)
    worker = worker_for(shelf, tmp_path)
    with caplog.at_level(logging.WARNING):
        try:
            assert worker.lookup(model_id) is LookupOutcome.MATCHED
        finally:
            worker.close()
    assert [r.getMessage() for r in caplog.records if "preview" in r.getMessage()] != []
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    folder = metadata_file(shelf, model_id).parent
    assert read_metadata(folder / "metadata.json").preview is None
    assert sorted(p.name for p in folder.iterdir()) == ["m.safetensors", "metadata.json"]


def test_v1_metadata_is_read_and_upgraded_on_its_next_rewrite(shelf: Shelf, civitai: FakeCivitai,
                                                              tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "old.safetensors", "lora_sdxl")
    civitai.add(civitai_version(src))
    model_id = imported(shelf, src)
    path = metadata_file(shelf, model_id)
    v1 = json.loads(path.read_bytes())
    for key in ("identification", "family_source", "preview"):
        v1.pop(key)
    v1["hashes"].pop("autov2")
    v1.update(schema_version=1, written_by_hand={"note": "keep me"})
    path.write_text(json.dumps(v1))
    shelf.writer.rebuild()
    assert shelf.index.get(model_id) is not None                               # v1 is read
    worker = worker_for(shelf, tmp_path, previews=False)
    try:
        worker.lookup(model_id)
    finally:
        worker.close()
    upgraded = json.loads(path.read_bytes())
    assert upgraded["schema_version"] == 2 and upgraded["written_by_hand"] == {"note": "keep me"}
    assert upgraded["identification"]["civitai"]["status"] == "matched"


# -- the commands ---------------------------------------------------------------------------------
def cli(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "modelshelf", *args], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_identify_show_and_search_by_autov2(civitai: FakeCivitai, tmp_path: Path, isolated_home: Path) -> None:
    config = isolated_home / ".config/modelshelf/config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[identify]\nproviders = ["civitai"]\n')
    src = write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl")
    civitai.images["p.png"] = png()
    civitai.add(civitai_version(src, images=[{"name": "p.png", "nsfwLevel": 2}]))
    model_id = json.loads(cli("import", str(src), "--json").stdout)[0]["model_id"]
    out = cli("identify", model_id, "--json")
    assert out.returncode == 0, out.stderr
    answered = json.loads(out.stdout)["models"][0]
    assert answered["outcome"] == "matched" and answered["providers"]["civitai"]["match"]["ref"] == "civitai:12@34"
    autov2 = digests(src)[1][:10]
    for query in (autov2.upper(), autov2.lower()):
        shown = cli("show", query)
        assert shown.returncode == 0, shown.stderr
        assert "trigger words         detailed, sharp focus" in shown.stdout
        assert "base model            SDXL 1.0" in shown.stdout
        assert "detail-tweaker-xl.preview.png" in shown.stdout
        assert "civitai  matched  civitai:12@34 Detail Tweaker XL v1.0 (sha256, 1.0)" in shown.stdout
        found = json.loads(cli("search", query, "--json").stdout)
        assert [m["model_id"] for m in found] == [model_id]
    assert cli("identify").stdout.strip() == "no models to identify"          # none pending any more
    again = json.loads(cli("identify", "--all", "--json").stdout)["models"]
    assert [(m["model_id"], m["outcome"]) for m in again] == [(model_id, "matched")]
    assert len(civitai.api_calls()) == 1                                       # the answer per hash is cached


def test_identify_through_the_daemon(civitai: FakeCivitai, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "epic.safetensors", "lora_sdxl")
    civitai.add(civitai_version(src))
    env = {"HF_HUB_OFFLINE": "0", "MODELSHELF_CIVITAI_ENDPOINT": civitai.endpoint}
    with DaemonProcess(tmp_path, '[identify]\nproviders = ["civitai"]\n[civitai]\npreviews = false\n', env=env) as d:
        d.start()
        (d.inbox / src.name).write_bytes(src.read_bytes())
        job = d.wait_jobs(1)[0]
        wait_for(lambda: d.call("status")["hub"]["pending"] == 0, 20, "the CivitAI lookup")
        status = d.call("status")["hub"]
        assert status["providers"]["civitai"]["state"] == "online" and status["endpoint"] == civitai.endpoint
        assert "civitai   online · 0 pending" in d.cli("status").stdout
        calls = len(civitai.api_calls())
        out = d.cli("identify", job["model_id"])
        assert out.returncode == 0, out.stderr
        assert "civitai  matched  civitai:12@34" in out.stdout
        assert len(civitai.api_calls()) == calls          # cached: the daemon answered from its cache
        # (done locally it would have failed: the daemon holds the library's writer lock)


def test_a_v1_model_shows_what_the_hub_said(shelf: Shelf, tmp_path: Path) -> None:
    model_id = imported(shelf, write_safetensors(tmp_path / "old.safetensors", "lora_sdxl"))
    meta = read_metadata(metadata_file(shelf, model_id))
    hub_said = {"repo_id": "org/old", "revision": "main", "filename": "old.safetensors", "method": "sha256",
                "confidence": 1.0, "reason": "SHA-256 and size of old.safetensors match", "official_name": "old",
                "tags": [], "pipeline_tag": None, "license": None, "base_model": ["org/base"],
                "download_url": None, "matched_at": "2026-01-01T00:00:00+00:00"}
    view = identification_view(meta.replace(hub=hub_said, identification=None), "lora/sdxl/old")
    assert view["best"] == "hf:org/old" and view["base_model"] == "org/base"
    assert view["providers"]["hub"]["status"] == "matched"


def test_an_unpublished_version_of_a_listed_model_is_gone_with_its_reason(shelf: Shelf, civitai: FakeCivitai,
                                                                         tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "v1.safetensors", "lora_sdxl")
    civitai.add(civitai_version(src))
    civitai.add(FakeVersion(35, 12, "Detail Tweaker XL", "v2.0", [FakeFile("v2.safetensors", 10, "ab" * 32)]))
    model_id = imported(shelf, src)
    worker = worker_for(shelf, tmp_path, previews=False, cache_ttl=0.0, negative_ttl=0.0)
    try:
        worker.lookup(model_id)
        civitai.versions[34].published = False
        worker.lookup(model_id)
    finally:
        worker.close()
    state = read_metadata(metadata_file(shelf, model_id)).identification["civitai"]
    assert state["status"] == "gone" and state["note"] == "version 34 is no longer published (model 12 still is)"
    assert state["match"]["record"]["version_name"] == "v1.0"
