"""SwarmUI (mcmonkeyprojects/SwarmUI): per-file links under Models/.

Folders from src/Core/Settings.cs (ModelRoot = "Models", SDModelFolder = "Stable-Diffusion",
SDLoraFolder = "Lora", SDVAEFolder = "VAE", SDEmbeddingFolder = "Embeddings",
SDControlNetsFolder = "controlnet", SDClipFolder = "text_encoders;clip", SDClipVisionFolder =
"clip_vision") and src/BuiltinExtensions/ComfyUIBackend/ComfyUISelfStartBackend.cs (the
extra_model_paths it writes: upscale_models, hypernetworks, and FoldersToForwardInComfyPath
diffusion_models, unet, ipadapter).
"""

from __future__ import annotations

from .base import AdapterEnv, AppKind
from .linkbase import LinkAdapter

SWARMUI_MAPPING: dict[str, tuple[str, ...]] = {
    "checkpoint": ("Stable-Diffusion",),
    "diffusion_model": ("diffusion_models", "unet"),
    "lora": ("Lora",),
    "vae": ("VAE",),
    "embedding": ("Embeddings",),
    "controlnet": ("controlnet",),
    "t2i_adapter": ("controlnet",),
    "text_encoder": ("text_encoders", "clip"),
    "clip_vision": ("clip_vision",),
    "upscaler": ("upscale_models",),
    "hypernetwork": ("hypernetworks",),
    "ip_adapter": ("ipadapter",),
}


class SwarmUIAdapter(LinkAdapter):
    shows_previews = True     # a "<stem>.preview.png" beside the model is its card picture
    kind = AppKind.SWARMUI
    mapping = SWARMUI_MAPPING
    base = "Models"
    scan = ("Models",)
    markers = ("launchtools", "src/SwarmUI.csproj")

    def recognises(self, root) -> bool:
        return super().recognises(root) and (root / "Models").is_dir()


def build(env: AdapterEnv) -> SwarmUIAdapter:
    return SwarmUIAdapter(env)
