from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.config import AppConfig, Config, ImportConfig, ImportMode, PathsConfig
from modelshelf.ingest import ImportJob
from modelshelf.shelf import Shelf

from ..models import write_diffusers, write_gguf, write_safetensors

MODERN = ["checkpoints", "diffusion_models", "unet", "loras", "vae", "controlnet", "text_encoders", "clip",
          "clip_vision", "embeddings", "upscale_models", "diffusers", "custom_nodes_extra"]
OLDER = ["checkpoints", "unet", "loras", "vae", "clip", "embeddings"]


def comfy(root: Path, folders: list[str]) -> Path:
    for name in folders:
        (root / "models" / name).mkdir(parents=True)
    (root / "main.py").write_text("# ComfyUI\n")
    return root


def link_config(tmp_path: Path, apps_glob: Path, library: Path | None = None, **app) -> Config:
    return Config(paths=PathsConfig(library=library or tmp_path / "library", inboxes=(tmp_path / "inbox",),
                                    state_dir=tmp_path / "state"),
                  imports=ImportConfig(reserve_mib=0), apps=(AppConfig(root=str(apps_glob), **app),))


@pytest.fixture
def installs(tmp_path: Path) -> tuple[Path, Path]:
    versions = tmp_path / "comfyui-versions"
    return comfy(versions / "v0.3.40", MODERN), comfy(versions / "v0.2.0", OLDER)


@pytest.fixture
def linked_shelf(tmp_path: Path, installs):
    with Shelf(link_config(tmp_path, tmp_path / "comfyui-versions" / "*"), writer=True) as shelf:
        yield shelf


def import_all(shelf: Shelf, tmp_path: Path) -> dict[str, str]:
    """One model of each kind; returns {kind: model_id}."""
    src = tmp_path / "sources"
    src.mkdir(exist_ok=True)
    files = {"checkpoint": write_safetensors(src / "juggernautXL.safetensors", "checkpoint_sdxl"),
             "diffusion_model": write_gguf(src / "flux1-dev-Q4_0.gguf", "flux"),
             "lora": write_safetensors(src / "detail.safetensors", "lora_sdxl"),
             "vae": write_safetensors(src / "ae.safetensors", "vae_flux"),
             "controlnet": write_safetensors(src / "canny.safetensors", "control_canny_sd15"),
             "text_encoder": write_safetensors(src / "t5xxl_fp16.safetensors", "t5xxl_fp16"),
             "clip_vision": write_safetensors(src / "clip_vision_h.safetensors", "clip_vision_h"),
             "embedding": write_safetensors(src / "easynegative.safetensors", "easynegative"),
             "upscaler": write_safetensors(src / "4x_ultrasharp.safetensors", "RealESRGAN_x4plus"),
             "diffusers": write_diffusers(src / "sdxl-base")}
    importer = shelf.importer()
    return {kind: importer.run(ImportJob(path, ImportMode.COPY)).model_id for kind, path in files.items()}
