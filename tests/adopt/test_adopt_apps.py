"""Adoption through the app adapters: an adopted file is the link `sync` would have made (found
PRESENT, never a clash), its registry row is like any other (health, delete), an unconfigured
PATH is a `folders` install, and apps that manage their own files are left out with the reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from modelshelf import actions
from modelshelf.adopt import Outcome, SkipReason, adopt
from modelshelf.apps import AppKind, ApplyStatus, PlacementMethod
from modelshelf.config import AppConfig
from modelshelf.shelf import Shelf

from ..apps.conftest import make_install, shelf_config
from ..models import write_diffusers, write_gguf, write_safetensors
from .conftest import comfy, sha256, snapshot


def _place(tmp_path: Path) -> tuple[Path, Path, dict[Path, str]]:
    """Two ComfyUI versions and an A1111 install, each model where its app keeps that type."""
    versions = tmp_path / "comfyui-versions"
    v1, v2 = comfy(versions / "v1"), comfy(versions / "v2")
    webui = make_install(tmp_path / "stable-diffusion-webui", "a1111")
    src = tmp_path / "downloads"
    src.mkdir()
    ckpt = write_safetensors(src / "juggernautXL.safetensors", "checkpoint_sdxl", salt=1)
    lora = write_safetensors(src / "detail.safetensors", "lora_sdxl", salt=2)
    placed = [v1 / "models/checkpoints", v2 / "models/checkpoints", webui / "models/Stable-diffusion"]
    for folder in placed:
        shutil.copy(ckpt, folder / ckpt.name)
    for folder in (v1 / "models/loras", webui / "models/Lora"):
        shutil.copy(lora, folder / lora.name)
    write_safetensors(v2 / "models/vae/ae.safetensors", "vae_flux", salt=3)
    write_diffusers(v1 / "models/diffusers/sdxl-base", salt=4)
    files = {p: sha256(p) for root in (versions, webui) for p in root.rglob("*")
             if p.is_file() and p.suffix in (".safetensors", ".json") and "models" in p.parts}
    return versions, webui, files


def _apps(versions: Path, webui: Path) -> tuple[AppConfig, ...]:
    return (AppConfig(root=f"{versions}/*"), AppConfig(root=str(webui), kind=AppKind.A1111))


def test_an_adopted_file_is_the_link_sync_would_make(tmp_path: Path) -> None:
    versions, webui, files = _place(tmp_path)
    with Shelf(shelf_config(tmp_path, _apps(versions, webui)), writer=True) as shelf:
        report = adopt(shelf, [])
        assert {r.outcome for r in report.results} == {Outcome.ADOPTED, Outcome.LINKED}
        assert all(p.is_symlink() and sha256(p) == digest for p, digest in files.items())
        adopted = {(r.install, r.target): r for r in shelf.registry.all()}
        assert {r.target_path for r in adopted.values()} == set(files)
        assert {(r.method, r.key, r.kind) for r in adopted.values()} == {
            (PlacementMethod.LINK, None, "relative_symlink")}

        synced = actions.sync(shelf)
        assert synced.problems == ()
        status = {(r.install, r.target): r.status for r in synced.results}
        assert {key: status.get(key) for key in adopted} == {key: ApplyStatus.PRESENT for key in adopted}
        # sync added the models where they were missing (the VAE into v1 and A1111), nothing at an adopted name
        created = {key for key, s in status.items() if s is ApplyStatus.CREATED}
        assert created and not created & adopted.keys()
        after = {(r.install, r.target): r for r in shelf.registry.all()}
        assert {key: after[key] for key in adopted} == adopted          # the same rows, as sync writes them
        health = actions.health(shelf)
        assert health.report.status == "healthy", health.report.findings


def test_adopted_links_go_with_their_model_like_any_other(tmp_path: Path) -> None:
    versions, webui, files = _place(tmp_path)
    with Shelf(shelf_config(tmp_path, _apps(versions, webui)), writer=True) as shelf:
        adopt(shelf, [])
        lora = next(m for m in shelf.index.all() if m.model_type == "lora")
        deleted = actions.delete(shelf, lora.model_id)
        assert deleted.links_removed == 2
        gone = [p for p in files if p.name == "detail.safetensors"]
        assert len(gone) == 2 and not any(os.path.lexists(p) for p in gone)
        assert all(sha256(p) == d for p, d in files.items() if p.name != "detail.safetensors")
        assert actions.health(shelf).report.status == "healthy"


def test_a_path_outside_the_installs_is_a_folders_install_and_installs_in_it_stay_themselves(
        tmp_path: Path) -> None:
    versions, webui, files = _place(tmp_path)
    (versions / "old-downloads").mkdir()
    loose = write_safetensors(versions / "old-downloads" / "style.safetensors", "lora_sdxl", salt=5)
    with Shelf(shelf_config(tmp_path, (AppConfig(root=f"{versions}/*"),)), writer=True) as shelf:
        report = adopt(shelf, [str(versions), str(webui)])
        assert report.plan.skipped == () and all(r.outcome is not Outcome.SKIPPED for r in report.results)
        owners = (versions / "v1", versions / "v2", webui)
        expected = {p: str(next(r for r in owners if p.is_relative_to(r))) for p in files} | {loose: str(versions)}
        assert {r.target_path: r.install for r in shelf.registry.all()} == expected
        kinds = {root: i.kind for root, i in shelf.registry.known_installs().items()}
        assert kinds == {str(versions / "v1"): AppKind.COMFYUI, str(versions / "v2"): AppKind.COMFYUI,
                         str(versions): AppKind.FOLDERS, str(webui): AppKind.FOLDERS}
        health = actions.health(shelf)
        assert health.report.status == "healthy", health.report.findings


def test_invokeai_and_ollama_installs_are_left_out_with_the_reason(tmp_path: Path) -> None:
    invoke = tmp_path / "invokeai"
    (invoke / "models").mkdir(parents=True)
    (invoke / "invokeai.yaml").write_text("schema_version: 4.0.2\n")
    write_safetensors(invoke / "models" / "juggernautXL.safetensors", "checkpoint_sdxl")
    ollama = tmp_path / "ollama-models"
    (ollama / "manifests").mkdir(parents=True)
    (ollama / "blobs").mkdir()
    write_gguf(ollama / "blobs" / "sha256-0123", "llama", "Llama 3.2 1B Instruct")
    apps = (AppConfig(root=str(invoke), kind=AppKind.INVOKEAI, url="http://127.0.0.1:9"),
            AppConfig(root=str(ollama), kind=AppKind.OLLAMA, url="http://127.0.0.1:9"))
    before = snapshot(invoke, ollama)
    with Shelf(shelf_config(tmp_path, apps), writer=True) as shelf:
        every = adopt(shelf, [])
        inside = adopt(shelf, [str(invoke / "models"), str(ollama / "blobs")])
        for report in (every, inside):
            assert report.results == () and report.plan.models == ()
            why = {s.path: (s.reason, s.detail) for s in report.plan.skipped}
            assert why.keys() == {invoke, ollama}
            assert {reason for reason, _ in why.values()} == {SkipReason.APP_MANAGED}
            assert "InvokeAI" in why[invoke][1] and "Ollama" in why[ollama][1]
        assert shelf.index.count() == 0
    assert snapshot(invoke, ollama) == before
