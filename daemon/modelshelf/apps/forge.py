"""Forge (lllyasviel/stable-diffusion-webui-forge) and reForge (Panchovix/stable-diffusion-webui-reForge).

Both keep A1111's folders (see a1111.py) and add, per their own code:
- Forge modules_forge/main_entry.py: VAE and text encoders listed from models/VAE and
  models/text_encoder; diffusion-only models (Flux, SD3 unets) in the checkpoint list, i.e.
  models/Stable-diffusion; modules_forge/shared.py: models/ControlNet, models/diffusers;
  extensions-builtin/sd_forge_lora/preload.py: models/Lora, models/LyCORIS.
- reForge modules/sd_text_encoder.py: models/text_encoders (plural).
The first of text_encoder / text_encoders that exists wins; else Forge's.
"""

from __future__ import annotations

from .a1111 import A1111_MAPPING, upscaler_folders
from .base import AdapterEnv, AppKind, LibraryModel
from .linkbase import LinkAdapter

FORGE_MAPPING: dict[str, tuple[str, ...]] = {
    **A1111_MAPPING,
    "diffusion_model": ("models/Stable-diffusion",),
    "text_encoder": ("models/text_encoder", "models/text_encoders"),
    "diffusers": ("models/diffusers",),
}


class ForgeAdapter(LinkAdapter):
    shows_previews = True     # a "<stem>.preview.png" beside the model is its card picture
    kind = AppKind.FORGE
    mapping = FORGE_MAPPING
    markers = ("modules_forge",)
    scan = ("models", "embeddings")

    def recognises(self, root) -> bool:
        return (root / "webui.py").exists() and (root / "modules_forge").is_dir()

    def folders_for(self, model: LibraryModel) -> tuple[str, ...]:
        if model.model_type == "upscaler":
            return upscaler_folders(model, dict(self.mapping))
        return super().folders_for(model)


def build(env: AdapterEnv) -> ForgeAdapter:
    return ForgeAdapter(env)
