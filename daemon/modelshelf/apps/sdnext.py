"""SD.Next (vladmandic/sdnext): per-file links into its folders.

Folders from modules/ui_definitions.py (the *_dir options' defaults: models/Stable-diffusion,
Diffusers, VAE, UNET, Text-encoder, Lora, embeddings, control, ESRGAN, RealESRGAN, SwinIR,
CLIP) and modules/civitai/filemanage_civitai.py TYPE_MAP (hypernetworks, motion for motion
modules; transformer-only models go to UNET). models/VAE-approx ships in the repo.
"""

from __future__ import annotations

from .a1111 import upscaler_folders
from .base import AdapterEnv, AppKind, LibraryModel
from .linkbase import LinkAdapter

SDNEXT_MAPPING: dict[str, tuple[str, ...]] = {
    "checkpoint": ("models/Stable-diffusion",),
    "diffusion_model": ("models/UNET",),
    "diffusers": ("models/Diffusers",),
    "lora": ("models/Lora",),
    "vae": ("models/VAE",),
    "vae_approx": ("models/VAE-approx",),
    "text_encoder": ("models/Text-encoder",),
    "embedding": ("models/embeddings",),
    "hypernetwork": ("models/hypernetworks",),
    "controlnet": ("models/control",),
    "t2i_adapter": ("models/control",),
    "clip_vision": ("models/CLIP",),
    "motion_module": ("models/motion",),
    "upscaler": ("models/ESRGAN",),
}


class SDNextAdapter(LinkAdapter):
    shows_previews = True     # a "<stem>.preview.png" beside the model is its card picture
    kind = AppKind.SDNEXT
    mapping = SDNEXT_MAPPING
    markers = ("installer.py",)

    def recognises(self, root) -> bool:
        return (root / "installer.py").is_file() and (root / "modules").is_dir()

    def folders_for(self, model: LibraryModel) -> tuple[str, ...]:
        if model.model_type == "upscaler":
            return upscaler_folders(model, dict(self.mapping))
        return super().folders_for(model)


def build(env: AdapterEnv) -> SDNextAdapter:
    return SDNextAdapter(env)
