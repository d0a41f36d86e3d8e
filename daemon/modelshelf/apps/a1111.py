"""AUTOMATIC1111 stable-diffusion-webui: per-file links into its folders.

Folders from the webui's own code: extensions-builtin/Lora/preload.py read in
AUTOMATIC1111/stable-diffusion-webui itself; the rest read in the Forge fork, which keeps these
files as they are: modules/sd_models.py (models/Stable-diffusion), modules/sd_vae.py (models/VAE),
modules/sd_vae_approx.py (models/VAE-approx), modules/cmd_args.py (--embeddings-dir =
<root>/embeddings, --hypernetwork-dir = models/hypernetworks, --esrgan/--realesrgan/--swinir
models paths = models/ESRGAN, models/RealESRGAN, models/SwinIR), the Lora preload (models/Lora,
models/LyCORIS), and the sd-webui-controlnet
extension's models/ControlNet (also where it lists IP-Adapter and T2I-Adapter models;
modules/launch_utils.py configure_forge_reference_checkout names the same folders).
"""

from __future__ import annotations

from .base import AdapterEnv, AppKind, LibraryModel
from .linkbase import LinkAdapter

A1111_MAPPING: dict[str, tuple[str, ...]] = {
    "checkpoint": ("models/Stable-diffusion",),
    "lora": ("models/Lora", "models/LyCORIS"),
    "vae": ("models/VAE",),
    "vae_approx": ("models/VAE-approx",),
    "embedding": ("embeddings",),                     # at the install root, not under models/
    "hypernetwork": ("models/hypernetworks",),
    "controlnet": ("models/ControlNet",),
    "t2i_adapter": ("models/ControlNet",),
    "ip_adapter": ("models/ControlNet",),
    "upscaler": ("models/ESRGAN",),
}

MARKERS = ("webui.py", "modules")


def upscaler_folders(model: LibraryModel, mapping: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Upscalers go by architecture: SwinIR, RealESRGAN (by name), else ESRGAN."""
    name = f"{model.cleaned_name} {model.primary_file or ''}".lower()
    if model.family == "swinir" or "swinir" in name:
        return ("models/SwinIR",)
    if "realesrgan" in name.replace("-", "").replace("_", ""):
        return ("models/RealESRGAN",)
    return mapping["upscaler"]


class A1111Adapter(LinkAdapter):
    shows_previews = True     # a "<stem>.preview.png" beside the model is its card picture
    kind = AppKind.A1111
    mapping = A1111_MAPPING
    markers = MARKERS
    scan = ("models", "embeddings")

    def recognises(self, root) -> bool:
        return all((root / m).exists() for m in MARKERS)

    def folders_for(self, model: LibraryModel) -> tuple[str, ...]:
        if model.model_type == "upscaler":
            return upscaler_folders(model, dict(self.mapping))
        return super().folders_for(model)


def build(env: AdapterEnv) -> A1111Adapter:
    return A1111Adapter(env)
