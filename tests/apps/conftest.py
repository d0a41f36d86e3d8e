"""App trees laid out as each app lays them out (marker files from each app's repository), and a
library holding one model of every type modelshelf knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.config import AppConfig, AppKind, Config, ImportConfig, ImportMode, PathsConfig
from modelshelf.ingest import ImportJob
from modelshelf.library.metadata import read_metadata, write_metadata
from modelshelf.shelf import Shelf

from ..models import write_diffusers, write_gguf, write_safetensors


def tree(root: Path, files: list[str], folders: list[str]) -> Path:
    for name in folders:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("# marker\n")
    return root


# kind -> (marker files, folders) as a fresh install has them after its first start.
LAYOUTS: dict[str, tuple[list[str], list[str]]] = {
    # comfyanonymous/ComfyUI: main.py, comfy/, folder_paths.py, models/<folder_paths names>
    "comfyui": (["main.py", "folder_paths.py", "comfy/__init__.py"],
                [f"models/{f}" for f in ("checkpoints", "diffusion_models", "loras", "vae", "controlnet",
                                         "text_encoders", "clip_vision", "embeddings", "upscale_models", "diffusers",
                                         "hypernetworks", "vae_approx", "t2i_adapter", "ipadapter",
                                         "animatediff_models")]),
    # AUTOMATIC1111: webui.py, launch.py, modules/; embeddings/ at the root
    "a1111": (["webui.py", "launch.py", "modules/shared.py"],
              ["embeddings"] + [f"models/{f}" for f in ("Stable-diffusion", "VAE", "VAE-approx", "Lora",
                                                        "hypernetworks", "ControlNet", "ESRGAN", "RealESRGAN",
                                                        "SwinIR")]),
    # lllyasviel/stable-diffusion-webui-forge: + modules_forge/, backend/, models/text_encoder
    "forge": (["webui.py", "launch.py", "modules/shared.py", "modules_forge/shared.py", "backend/args.py"],
              ["embeddings"] + [f"models/{f}" for f in ("Stable-diffusion", "VAE", "VAE-approx", "text_encoder",
                                                        "Lora", "ControlNet", "diffusers", "ESRGAN")]),
    # vladmandic/sdnext: installer.py + webui.py + modules/
    "sdnext": (["webui.py", "installer.py", "launch.py", "modules/shared.py"],
               [f"models/{f}" for f in ("Stable-diffusion", "Diffusers", "VAE", "VAE-approx", "UNET",
                                        "Text-encoder", "Lora", "embeddings", "control", "ESRGAN", "CLIP",
                                        "hypernetworks", "motion")]),
    # mcmonkeyprojects/SwarmUI: launchtools/, src/SwarmUI.csproj, Models/
    "swarmui": (["launchtools/launch-linux.sh", "src/SwarmUI.csproj", "launch-linux.sh"],
                [f"Models/{f}" for f in ("Stable-Diffusion", "diffusion_models", "Lora", "VAE", "Embeddings",
                                         "controlnet", "text_encoders", "clip", "clip_vision", "upscale_models",
                                         "hypernetworks", "ipadapter")]),
    # lllyasviel/Fooocus: fooocus_version.py, entry_with_update.py, models/ from modules/config.py
    "fooocus": (["fooocus_version.py", "entry_with_update.py", "launch.py", "modules/config.py"],
                [f"models/{f}" for f in ("checkpoints", "loras", "embeddings", "vae", "vae_approx",
                                         "upscale_models", "controlnet", "clip_vision")]),
    # oobabooga/text-generation-webui: server.py, one_click.py, modules/, user_data/models
    "textgen": (["server.py", "one_click.py", "modules/shared.py", "user_data/CMD_FLAGS.txt"],
                ["user_data/models", "user_data/mmproj"]),
    "lmstudio": ([], []),          # the models folder itself
    "llamacpp": ([], []),          # the folder llama-server --models-dir reads
    "folders": ([], ["Stable-diffusion", "Lora"]),
}

FOLDERS_MAPPING = {"checkpoint": ("Stable-diffusion",), "lora": ("Lora",), "llm": ("llm",)}


def make_install(root: Path, kind: str) -> Path:
    files, folders = LAYOUTS[kind]
    root.mkdir(parents=True, exist_ok=True)
    return tree(root, files, folders)


def app_config(kind: str, root: Path, **extra) -> AppConfig:
    if kind == "folders":
        extra.setdefault("mapping", FOLDERS_MAPPING)
    return AppConfig(root=str(root), kind=AppKind(kind), **extra)


def shelf_config(tmp_path: Path, apps: tuple[AppConfig, ...], library: Path | None = None) -> Config:
    return Config(paths=PathsConfig(library=library or tmp_path / "library", inboxes=(tmp_path / "inbox",),
                                    state_dir=tmp_path / "state"),
                  imports=ImportConfig(reserve_mib=0), apps=apps)


def retype(shelf: Shelf, model_id: str, **changes) -> None:
    """What the classifier (or a Hub match) writes: metadata.json first, then the index row."""
    model = shelf.index.get(model_id)
    folder = shelf.library.root / model.path
    meta = read_metadata(folder / "metadata.json").replace(**changes)
    write_metadata(folder, meta)
    shelf.index.upsert(meta, model.path)


# type -> (file name, writer) for the types this build's classifier finds by itself
SOURCES = {
    "checkpoint": ("juggernautXL.safetensors", lambda p: write_safetensors(p, "checkpoint_sdxl")),
    "diffusion_model": ("flux1-dev-Q4_0.gguf", lambda p: write_gguf(p, "flux")),
    "lora": ("detail.safetensors", lambda p: write_safetensors(p, "lora_sdxl")),
    "vae": ("ae.safetensors", lambda p: write_safetensors(p, "vae_flux")),
    "controlnet": ("canny.safetensors", lambda p: write_safetensors(p, "control_canny_sd15")),
    "text_encoder": ("t5xxl_fp16.safetensors", lambda p: write_safetensors(p, "t5xxl_fp16")),
    "clip_vision": ("clip_vision_h.safetensors", lambda p: write_safetensors(p, "clip_vision_h")),
    "embedding": ("easynegative.safetensors", lambda p: write_safetensors(p, "easynegative")),
    "upscaler": ("RealESRGAN_x4plus.safetensors", lambda p: write_safetensors(p, "RealESRGAN_x4plus")),
    "diffusers": ("sdxl-base", lambda p: write_diffusers(p)),
    "llm": ("Llama-3.2-1B-Instruct-Q4_K_M.gguf", lambda p: write_gguf(p, "llama", "Llama 3.2 1B Instruct")),
}
# types the identification branch adds: imported as a near kind, then retyped by string
RETYPED = {
    "ip_adapter": ("ip-adapter_sdxl.safetensors", "lora_flux"),
    "t2i_adapter": ("t2iadapter_canny_sd15v2.safetensors", "controlnet_sdxl"),
    "motion_module": ("mm_sd_v15_v2.safetensors", "unet_sdxl"),
    "hypernetwork": ("anime_hn.safetensors", "lora_sd15_meta"),
    "vae_approx": ("taesdxl_decoder.safetensors", "sdxl_vae"),
}
MMPROJ = "mmproj-Llama-3.2-1B-F16.gguf"


def import_every_type(shelf: Shelf, tmp_path: Path) -> dict[str, str]:
    """One model of every type modelshelf knows; returns {type: model_id}."""
    src = tmp_path / "sources"
    src.mkdir(exist_ok=True)
    importer = shelf.importer()
    ids = {}
    for kind, (name, write) in SOURCES.items():
        ids[kind] = importer.run(ImportJob(write(src / name), ImportMode.COPY)).model_id
    for kind, (name, like) in RETYPED.items():
        ids[kind] = importer.run(ImportJob(write_safetensors(src / name, like, salt=7), ImportMode.COPY)).model_id
        retype(shelf, ids[kind], model_type=kind)
    ids["mmproj"] = importer.run(ImportJob(write_gguf(src / MMPROJ, "clip", "Llama 3.2 1B Instruct", salt=3),
                                           ImportMode.COPY)).model_id
    retype(shelf, ids["mmproj"], model_type="mmproj")
    for kind in ("llm", "mmproj"):     # the Hub match names LM Studio's publisher/repo
        retype(shelf, ids[kind], hub={"repo_id": "bartowski/Llama-3.2-1B-Instruct-GGUF"})
    return ids


@pytest.fixture
def every_kind(tmp_path: Path) -> dict[str, Path]:
    """One install of every link-based kind, side by side."""
    return {kind: make_install(tmp_path / "apps" / kind, kind) for kind in LAYOUTS}
