"""ComfyUI: per-file links under models/<folder>, only into folders that exist in the install
(custom nodes add folders at run time, so the folder is looked up every time).

Folders from comfyanonymous/ComfyUI folder_paths.py (folder_names_and_paths: checkpoints, loras,
vae, clip -> text_encoders, unet -> diffusion_models, clip_vision, embeddings, diffusers,
vae_approx, controlnet + t2i_adapter, upscale_models, hypernetworks). ipadapter is the folder of
the ComfyUI_IPAdapter_plus node, animatediff_models the one of AnimateDiff-Evolved.
"""

from __future__ import annotations

from pathlib import Path

from .base import AdapterEnv, AppKind, is_dir
from .linkbase import LinkAdapter

# model_type -> candidate folders under models/, first existing wins (ComfyUI keeps "unet" and
# "clip" as older names of diffusion_models and text_encoders).
COMFYUI_MAPPING: dict[str, tuple[str, ...]] = {
    "checkpoint": ("checkpoints",),
    "diffusion_model": ("diffusion_models", "unet"),
    "lora": ("loras",),
    "vae": ("vae",),
    "controlnet": ("controlnet",),
    "text_encoder": ("text_encoders", "clip"),
    "clip_vision": ("clip_vision",),
    "embedding": ("embeddings",),
    "upscaler": ("upscale_models",),
    "diffusers": ("diffusers",),
    "hypernetwork": ("hypernetworks",),
    "vae_approx": ("vae_approx",),
    "t2i_adapter": ("t2i_adapter", "controlnet"),
    "ip_adapter": ("ipadapter",),
    "motion_module": ("animatediff_models",),
}


class ComfyUIAdapter(LinkAdapter):
    kind = AppKind.COMFYUI
    mapping = COMFYUI_MAPPING
    base = "models"
    create_missing = False

    def recognises(self, root: Path) -> bool:
        # A configured root needs only its models/ folder; discovery also wants main.py (discover.py).
        return is_dir(root / "models")


def build(env: AdapterEnv) -> ComfyUIAdapter:
    return ComfyUIAdapter(env)
