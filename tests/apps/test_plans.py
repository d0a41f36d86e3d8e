"""Plans are pure and immutable: where a model goes, decided from the model and the app's folders."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from modelshelf.apps import AdapterEnv, AppInstall, AppKind, LibraryModel, ModelFile, PlacementMethod, build_adapter
from modelshelf.apps.filelinks import FileLinker

from .conftest import make_install


def model(model_type: str, name: str, family: str = "unknown", fmt: str = "safetensors", hub: str | None = None,
          header: str | None = None) -> LibraryModel:
    folder = Path("/library") / model_type / name
    return LibraryModel(f"id-{name}", model_type, family, name.rsplit(".", 1)[0], fmt, folder, name,
                        (ModelFile(name, folder / name, 1, "0" * 64),), "0" * 64, hub, header)


@pytest.fixture
def env(tmp_path: Path) -> AdapterEnv:
    (tmp_path / "library").mkdir()
    return AdapterEnv(tmp_path / "library", FileLinker(tmp_path / "library"))


def targets(env: AdapterEnv, kind: str, root: Path, m: LibraryModel) -> list[str]:
    install = AppInstall(root, AppKind(kind))
    return [p.target.relative_to(root).as_posix() for p in build_adapter(AppKind(kind), env).plan(install, m)]


def test_upscalers_go_by_architecture(env: AdapterEnv, tmp_path: Path) -> None:
    root = make_install(tmp_path / "sd", "a1111")
    assert targets(env, "a1111", root, model("upscaler", "4x-UltraSharp.pth", "esrgan")) == \
        ["models/ESRGAN/4x-UltraSharp.pth"]
    assert targets(env, "a1111", root, model("upscaler", "001_classicalSR_x4.pth", "swinir")) == \
        ["models/SwinIR/001_classicalSR_x4.pth"]
    assert targets(env, "a1111", root, model("upscaler", "RealESRGAN_x4plus.pth", "esrgan")) == \
        ["models/RealESRGAN/RealESRGAN_x4plus.pth"]


def test_lmstudio_folder_from_hub_else_header_else_local(env: AdapterEnv, tmp_path: Path) -> None:
    root = tmp_path / "lms"
    root.mkdir()
    gguf = "qwen2.5-7b-instruct-q4_k_m.gguf"
    assert targets(env, "lmstudio", root, model("llm", gguf, fmt="gguf", hub="Qwen/Qwen2.5-7B-Instruct-GGUF",
                                                header="Qwen2.5 7B Instruct")) == \
        [f"Qwen/Qwen2.5-7B-Instruct-GGUF/{gguf}"]
    assert targets(env, "lmstudio", root, model("llm", gguf, fmt="gguf", header="Qwen2.5 7B Instruct")) == \
        [f"local/Qwen2.5-7B-Instruct/{gguf}"]
    assert targets(env, "lmstudio", root, model("llm", gguf, fmt="gguf")) == \
        [f"local/qwen2.5-7b-instruct-q4_k_m/{gguf}"]
    assert targets(env, "lmstudio", root, model("llm", "model.safetensors")) == []   # LM Studio on Linux: GGUF


def test_comfyui_links_only_into_folders_that_exist_others_make_the_apps_own(env: AdapterEnv,
                                                                            tmp_path: Path) -> None:
    comfy = make_install(tmp_path / "comfy", "comfyui")
    (comfy / "models" / "hypernetworks").rmdir()
    assert targets(env, "comfyui", comfy, model("hypernetwork", "hn.pt")) == []
    fooocus = make_install(tmp_path / "fooocus", "fooocus")
    (fooocus / "models" / "loras").rmdir()
    assert targets(env, "fooocus", fooocus, model("lora", "x.safetensors")) == ["models/loras/x.safetensors"]
    assert not (fooocus / "models" / "loras").exists()                   # planning writes nothing


def test_a_users_mapping_overrides_the_apps(env: AdapterEnv, tmp_path: Path) -> None:
    root = make_install(tmp_path / "sd", "a1111")
    install = AppInstall(root, AppKind.A1111, mapping=(("lora", ("models/LyCORIS",)),))
    [p] = build_adapter(AppKind.A1111, env).plan(install, model("lora", "x.safetensors"))
    assert p.target == root / "models/LyCORIS/x.safetensors" and p.method is PlacementMethod.LINK
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.target = None  # type: ignore[misc]
