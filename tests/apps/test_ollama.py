"""The Ollama adapter on a real models folder laid out as Ollama lays it out, checked against a
second reading of Ollama's format (fake_ollama.py) and its start-up prune.

No `ollama` server binary is installable here (see fake_ollama.py), so the API path runs against
FakeOllama, which speaks the endpoints modelshelf uses with their JSON shapes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from pathlib import Path

import pytest

from modelshelf.apps.base import AdapterEnv, ApplyStatus, LinkKind, PlacementMethod, Problem
from modelshelf.apps.ollama import OllamaAdapter
from modelshelf.config import AppConfig, AppKind, LinkPolicy
from modelshelf.shelf import Shelf

from ..conftest import make_config
from ..helpers import sha256
from ..models import write_gguf
from .fake_ollama import GRACE_SECONDS, FakeOllama, blob_file, manifest_files, parse_manifest, prune_at_startup
from .library_models import hand_made_model, import_file


@pytest.fixture
def shelf(tmp_path: Path):
    with Shelf(make_config(tmp_path, reserve_mib=0), writer=True) as s:
        yield s


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """An Ollama models folder as the server leaves it after its first start."""
    root = tmp_path / "home" / ".ollama" / "models"
    (root / "blobs").mkdir(parents=True)
    (root / "manifests").mkdir()
    return root


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"   # nothing listens once it is closed


def adapter_for(shelf: Shelf, timeout: float = 2.0) -> OllamaAdapter:
    return OllamaAdapter(AdapterEnv(shelf.library.root, None, timeout))   # Ollama makes no file links


def install_at(adapter: OllamaAdapter, models: Path, url: str, link: LinkPolicy = LinkPolicy.AUTO):
    (install,) = adapter.find_installs(AppConfig(root=str(models), kind=AppKind.OLLAMA, link=link, url=url))
    return install


def llama(shelf: Shelf, tmp_path: Path, file_name: str = "Llama-3-8B-Instruct.Q4_K_M.gguf", salt: int = 0):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    return import_file(shelf, write_gguf(src / file_name, "llama", name="Llama 3 8B Instruct", salt=salt))


def apply_all(adapter, install, model):
    return [adapter.apply(install, p) for p in adapter.plan(install, model)]


def resolve_layers(models: Path, manifest: dict) -> dict[str, bytes]:
    """Every layer of a manifest as Ollama would open it: digest -> the bytes behind its blob."""
    out = {}
    for layer in [*manifest["layers"], manifest["config"]]:
        data = blob_file(models, layer["digest"]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == layer["digest"]
        assert len(data) == layer["size"]
        out[layer["digest"]] = data
    return out


def test_names_follow_ollama_rules(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    blob, manifest = adapter.plan(install, model)
    assert manifest.key == "llama-3-8b-instruct:q4_k_m"
    assert manifest.target == models / "manifests/registry.ollama.ai/library/llama-3-8b-instruct/q4_k_m"
    assert blob.target == models / "blobs" / f"sha256-{model.sha256}"
    assert [p.method for p in (blob, manifest)] == [PlacementMethod.BLOB, PlacementMethod.MANIFEST]


@pytest.mark.parametrize("file_name, expected", [
    ("Mistral 7B Instruct v0.3 (Q8_0).gguf", "mistral-7b-instruct-v0.3:q8_0"),
    ("qwen2.5-coder-7b-instruct-iq4_xs.gguf", "qwen2.5-coder-7b-instruct:iq4_xs"),
    ("ÜberModel_BF16.gguf", "bermodel:bf16"),
    ("tiny.gguf", "tiny:latest"),
    ("--__.gguf", "model:latest"),
    ("x" * 200 + ".Q4_0.gguf", "x" * 80 + ":q4_0"),
])
def test_derived_names_are_valid_ollama_names(file_name, expected):
    from modelshelf.apps.ollama_format import derive_name

    from .fake_ollama import PART
    name, fallback = derive_name(Path(file_name).stem, file_name, "ab" * 32)
    assert str(name) == expected
    for n in (name, fallback):
        assert PART.match(n.model) and PART.match(n.tag) and n.model == n.model.lower()
    assert fallback.model.endswith("-abababab") and len(fallback.model) <= 80


def test_offline_registration_writes_ollamas_format_with_no_byte_copied(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    blob_done, manifest_done = apply_all(adapter, install, model)
    assert [a.status for a in (blob_done, manifest_done)] == [ApplyStatus.CREATED, ApplyStatus.CREATED]
    library_file = model.folder / model.primary_file
    blob = blob_file(models, f"sha256:{model.sha256}")
    assert os.stat(blob).st_ino == os.stat(library_file).st_ino          # a hardlink: the same bytes, not a copy
    assert blob_done.record.kind is LinkKind.HARDLINK
    # The manifest, read as Ollama reads it: found by its glob, every layer resolving to exact bytes.
    ((short, path),) = manifest_files(models)
    assert short == "llama-3-8b-instruct:q4_k_m" and manifest_done.record.key == short
    manifest = parse_manifest(path)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.ollama.image.model"
    data = resolve_layers(models, manifest)
    assert data[layer["digest"]] == library_file.read_bytes()
    config = json.loads(data[manifest["config"]["digest"]])
    assert config["model_format"] == "gguf" and config["file_type"] == "Q4_K_M" and config["os"] == "linux"
    assert path.read_bytes().endswith(b"}\n")                           # json.Encoder's own framing
    assert sum(f.stat().st_size for f in models.rglob("*") if f.is_file() and f.stat().st_nlink == 1) < 4096


def test_registration_survives_ollamas_startup_prune(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    apply_all(adapter, install, model)
    before = sorted(p.name for p in (models / "blobs").iterdir())
    stray = models / "blobs" / ("sha256-" + "0" * 64)
    stray.write_bytes(b"an unreferenced layer")
    partial = models / "blobs" / "sha256-123-partial"
    partial.write_bytes(b"x")
    later = time.time() + 2 * GRACE_SECONDS                               # past the grace period
    removed = prune_at_startup(models, now=later)
    assert removed == {stray.name, partial.name}                        # the rule is live: it does delete
    assert sorted(p.name for p in (models / "blobs").iterdir()) == before
    resolve_layers(models, parse_manifest(manifest_files(models)[0][1]))
    # Without our manifest the same prune would take our blob link (never the library file).
    manifest_files(models)[0][1].unlink()
    prune_at_startup(models, now=later)
    assert list((models / "blobs").iterdir()) == [] and sha256(model.folder / model.primary_file) == model.sha256
    assert not (models / "manifests" / "registry.ollama.ai").exists()  # PruneDirectory emptied it


def test_symlinked_blob_across_policy_is_seen_by_the_server_and_survives_prune(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    with FakeOllama(models) as server:
        install = install_at(adapter, models, server.url, LinkPolicy.ABSOLUTE)
        blob_done, manifest_done = apply_all(adapter, install, model)
        assert blob_done.record.kind is LinkKind.ABSOLUTE and manifest_done.status is ApplyStatus.CREATED
        blob = blob_file(models, f"sha256:{model.sha256}")
        assert blob.is_symlink() and os.readlink(blob) == str(model.folder / model.primary_file)
        assert server.calls("HEAD", f"/api/blobs/sha256:{model.sha256}") == 1
    assert prune_at_startup(models, now=time.time() + 2 * GRACE_SECONDS) == set()
    assert sha256(blob) == model.sha256


def test_current_server_is_not_asked_to_create_because_it_would_copy(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    with FakeOllama(models, version="0.33.0") as server:
        install = install_at(adapter, models, server.url)
        results = apply_all(adapter, install, model)
        assert [a.status for a in results] == [ApplyStatus.CREATED, ApplyStatus.CREATED]
        assert server.calls("POST", "/api/create") == 0
        assert server.calls("GET", "/api/tags") == 1                       # it confirmed `ollama list` sees it
        status, tags = server._tags()
        assert [m["name"] for m in tags["models"]] == ["llama-3-8b-instruct:q4_k_m"]
    assert len(list((models / "blobs").iterdir())) == 2                   # our link and the config, no copy


def test_older_server_registers_through_its_api_reusing_our_blob(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    with FakeOllama(models, version="0.24.0") as server:
        install = install_at(adapter, models, server.url)
        results = apply_all(adapter, install, model)
        assert [a.status for a in results] == [ApplyStatus.CREATED, ApplyStatus.CREATED]
        assert server.calls("POST", "/api/create") == 1
    manifest = parse_manifest(manifest_files(models)[0][1])
    assert manifest["layers"][0]["digest"] == f"sha256:{model.sha256}"
    assert os.stat(blob_file(models, f"sha256:{model.sha256}")).st_ino == os.stat(
        model.folder / model.primary_file).st_ino
    assert prune_at_startup(models, now=time.time() + 2 * GRACE_SECONDS) == set()


def test_server_on_another_models_folder_is_one_clear_error(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    elsewhere = tmp_path / "usr-share-ollama" / "models"
    (elsewhere / "blobs").mkdir(parents=True)
    with FakeOllama(elsewhere) as server:
        install = install_at(adapter, models, server.url)
        _, manifest_done = apply_all(adapter, install, model)
    assert manifest_done.status is ApplyStatus.ERROR
    assert "OLLAMA_MODELS" in manifest_done.detail and "\n" not in manifest_done.detail
    assert manifest_files(models) == []                                   # nothing half-made


@pytest.mark.bad_input
def test_garbage_answer_falls_back_to_the_disk_format_with_one_line(shelf, tmp_path, models, caplog):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    caplog.set_level(logging.WARNING, "modelshelf.apps.ollama")
    with FakeOllama(models, garbage=True) as server:
        install = install_at(adapter, models, server.url)
        results = apply_all(adapter, install, model)
    assert [a.status for a in results] == [ApplyStatus.CREATED, ApplyStatus.CREATED]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"Ollama at {server.url}") and "\n" not in line
    resolve_layers(models, parse_manifest(manifest_files(models)[0][1]))


@pytest.mark.bad_input
def test_a_server_that_never_answers_costs_one_timeout(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf, timeout=0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)                     # accepts connections (the kernel's backlog) but never answers
        install = install_at(adapter, models, f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        results = apply_all(adapter, install, model)
    assert time.monotonic() - started < 3
    assert [a.status for a in results] == [ApplyStatus.CREATED, ApplyStatus.CREATED]


def test_reapply_is_idempotent(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    apply_all(adapter, install, model)
    manifest = manifest_files(models)[0][1]
    before = manifest.read_bytes(), manifest.stat().st_mtime_ns
    again = apply_all(adapter, install, model)
    assert [a.status for a in again] == [ApplyStatus.PRESENT, ApplyStatus.PRESENT]
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before


def test_name_collision_gets_the_hash_suffixed_name_and_the_users_model_is_untouched(shelf, tmp_path, models):
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    first = llama(shelf, tmp_path)
    other_src = tmp_path / "other"
    other_src.mkdir()
    second = import_file(shelf, write_gguf(other_src / "Llama-3-8B-Instruct.Q4_K_M.gguf", "llama", salt=7))
    assert first.sha256 != second.sha256
    apply_all(adapter, install, first)
    results = apply_all(adapter, install, second)
    assert results[-1].status is ApplyStatus.CREATED
    assert results[-1].record.key == f"llama-3-8b-instruct-{second.sha256[:8]}:q4_k_m"
    names = {short for short, _ in manifest_files(models)}
    assert names == {"llama-3-8b-instruct:q4_k_m", f"llama-3-8b-instruct-{second.sha256[:8]}:q4_k_m"}
    # A third model whose both names are taken by other models: reported, nothing overwritten.
    taken = {p: p.read_bytes() for _, p in manifest_files(models)}
    for p in taken:
        p.write_bytes(p.read_bytes().replace(first.sha256.encode(), b"f" * 64).replace(
            second.sha256.encode(), b"e" * 64))
    taken = {p: p.read_bytes() for p in taken}
    clash = adapter.apply(install, adapter.plan(install, second)[-1])
    assert clash.status is ApplyStatus.CLASH and {p: p.read_bytes() for p in taken} == taken


def test_ollamas_own_copy_of_the_bytes_is_used_never_replaced_or_removed(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    pulled = blob_file(models, f"sha256:{model.sha256}")
    pulled.write_bytes((model.folder / model.primary_file).read_bytes())   # `ollama pull` got the same file
    blob_done, manifest_done = apply_all(adapter, install, model)
    assert blob_done.status is ApplyStatus.CLASH and manifest_done.status is ApplyStatus.CREATED
    adapter.undo(install, manifest_done.record)
    assert pulled.is_file() and not pulled.is_symlink() and sha256(pulled) == model.sha256


def test_delete_removes_the_manifest_and_the_blob_only_when_unused(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    blob_done, manifest_done = apply_all(adapter, install, model)
    ((_, ours),) = manifest_files(models)
    copy = models / "manifests/registry.ollama.ai/library/my-llama/latest"          # the user's `ollama cp`
    copy.parent.mkdir(parents=True)
    copy.write_bytes(ours.read_bytes())
    adapter.undo(install, blob_done.record)           # the linker may undo rows in any order
    adapter.undo(install, manifest_done.record)
    assert not ours.exists() and not ours.parent.exists()
    assert [short for short, _ in manifest_files(models)] == ["my-llama:latest"]
    resolve_layers(models, parse_manifest(copy))     # the user's copy still runs: blob and config kept
    copy.unlink()                                    # `ollama rm my-llama` without its RemoveLayers
    adapter.undo(install, blob_done.record)
    assert not blob_file(models, f"sha256:{model.sha256}").exists()
    assert sha256(model.folder / model.primary_file) == model.sha256


def test_delete_with_no_other_manifest_leaves_an_empty_models_folder(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    blob_done, manifest_done = apply_all(adapter, install, model)
    adapter.undo(install, manifest_done.record)
    adapter.undo(install, blob_done.record)
    assert list((models / "blobs").iterdir()) == [] and manifest_files(models) == []
    assert sha256(model.folder / model.primary_file) == model.sha256


def test_health_finds_and_fixes_what_a_user_breaks(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    blob_done, manifest_done = apply_all(adapter, install, model)
    assert adapter.check(install, blob_done.record) is None and adapter.check(install, manifest_done.record) is None
    blob_file(models, f"sha256:{model.sha256}").unlink()
    finding = adapter.check(install, manifest_done.record)
    assert finding.problem is Problem.BROKEN and "blob" in finding.detail
    assert adapter.fix(install, finding) is True
    resolve_layers(models, parse_manifest(manifest_files(models)[0][1]))
    manifest_files(models)[0][1].unlink()
    finding = adapter.check(install, manifest_done.record)
    assert finding.problem is Problem.BROKEN and adapter.fix(install, finding) is True
    assert [short for short, _ in manifest_files(models)] == ["llama-3-8b-instruct:q4_k_m"]
    assert prune_at_startup(models, now=time.time() + 2 * GRACE_SECONDS) == set()


def test_health_when_the_library_file_is_gone_removes_the_ollama_entry(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url(), LinkPolicy.ABSOLUTE)
    blob_done, manifest_done = apply_all(adapter, install, model)
    (model.folder / model.primary_file).unlink()
    finding = adapter.check(install, manifest_done.record)
    assert finding.problem is Problem.BROKEN and "gone" in finding.detail
    assert adapter.fix(install, finding) is False
    assert adapter.fix(install, adapter.check(install, blob_done.record)) is False
    assert manifest_files(models) == [] and list((models / "blobs").iterdir()) == []


def test_vision_projector_is_a_projector_layer(shelf, tmp_path, models):
    gguf_dir = tmp_path / "g"
    gguf_dir.mkdir()
    main = write_gguf(gguf_dir / "llava-v1.6-7b.Q4_K_M.gguf", "llama").read_bytes()
    proj = write_gguf(gguf_dir / "mmproj-model-f16.gguf", "clip").read_bytes()
    model = hand_made_model(shelf.library.root, "llava-v1.6-7b.Q4_K_M",
                            {"llava-v1.6-7b.Q4_K_M.gguf": main, "mmproj-model-f16.gguf": proj},
                            primary="llava-v1.6-7b.Q4_K_M.gguf")
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    results = apply_all(adapter, install, model)
    assert [a.placement.method for a in results] == [PlacementMethod.BLOB, PlacementMethod.BLOB,
                                                     PlacementMethod.MANIFEST]
    manifest = parse_manifest(manifest_files(models)[0][1])
    assert [layer["mediaType"] for layer in manifest["layers"]] == [
        "application/vnd.ollama.image.model", "application/vnd.ollama.image.projector"]
    data = resolve_layers(models, manifest)
    assert data[manifest["layers"][1]["digest"]] == proj
    assert prune_at_startup(models, now=time.time() + 2 * GRACE_SECONDS) == set()


def test_only_gguf_language_models_go_to_ollama(shelf, tmp_path, models):
    src = tmp_path / "src"
    src.mkdir()
    flux = import_file(shelf, write_gguf(src / "flux1-dev-Q4_0.gguf", "flux"))
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    assert adapter.plan(install, flux) == ()


def test_find_installs_by_ollamas_folders(tmp_path, shelf):
    adapter = adapter_for(shelf)
    empty = tmp_path / "not-ollama"
    empty.mkdir()
    assert adapter.find_installs(AppConfig(root=str(empty), kind=AppKind.OLLAMA)) == []
    assert adapter.find_installs(AppConfig(root=str(tmp_path / "unmounted"), kind=AppKind.OLLAMA)) == []
    (empty / "manifests").mkdir()
    (install,) = adapter.find_installs(AppConfig(root=str(empty), kind=AppKind.OLLAMA))
    assert install.url == "http://127.0.0.1:11434" and install.kind is AppKind.OLLAMA


def test_the_adapter_is_built_through_the_framework(shelf):
    from modelshelf.apps import Adapter, build_adapter

    adapter = build_adapter(AppKind.OLLAMA, AdapterEnv(shelf.library.root, None))
    assert isinstance(adapter, OllamaAdapter) and isinstance(adapter, Adapter)


def test_health_finds_a_missing_config_blob_and_a_name_taken_over_by_the_user(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    _, manifest_done = apply_all(adapter, install, model)
    path = manifest_files(models)[0][1]
    config = blob_file(models, parse_manifest(path)["config"]["digest"])
    config.unlink()                                                      # `ollama run` would fail to open it
    finding = adapter.check(install, manifest_done.record)
    assert finding.problem is Problem.BROKEN and parse_manifest(path)["config"]["digest"] in finding.detail
    assert adapter.fix(install, finding) is True and config.is_file()
    assert adapter.check(install, manifest_done.record) is None
    # The user re-creates the name from another model file: ours no more, never removed.
    theirs = blob_file(models, "sha256:" + "c" * 64)
    theirs.write_bytes(b"GGUF their own")
    data = parse_manifest(path)
    data["layers"][0]["digest"] = "sha256:" + "c" * 64
    path.write_text(json.dumps(data))
    finding = adapter.check(install, manifest_done.record)
    assert finding.problem is Problem.MISMATCHED and finding.fix is None
    adapter.undo(install, manifest_done.record)
    assert json.loads(path.read_text()) == data and theirs.is_file()


def test_a_users_model_differing_only_in_case_is_not_shadowed(shelf, tmp_path, models):
    model = llama(shelf, tmp_path)
    adapter = adapter_for(shelf)
    install = install_at(adapter, models, closed_port_url())
    users = models / "manifests/registry.ollama.ai/library/Llama-3-8B-Instruct/Q4_K_M"   # Ollama matches names
    users.parent.mkdir(parents=True)                                                   # case-insensitively
    users.write_text(json.dumps({"schemaVersion": 2, "config": {"mediaType": "x", "digest": "", "size": 0},
                                 "layers": [{"mediaType": "application/vnd.ollama.image.model",
                                             "digest": "sha256:" + "d" * 64, "size": 1}]}))
    done = apply_all(adapter, install, model)[-1]
    assert done.status is ApplyStatus.CREATED and done.record.key == f"llama-3-8b-instruct-{model.sha256[:8]}:q4_k_m"
