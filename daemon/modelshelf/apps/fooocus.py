"""Fooocus (lllyasviel/Fooocus): per-file links under models/.

Folders from modules/config.py (get_dir_or_set_default defaults: ../models/checkpoints, loras,
embeddings, vae_approx, vae, upscale_models, controlnet, clip_vision). Fooocus downloads its
IP-Adapter into path_controlnet, so IP-Adapters go to controlnet too.
"""

from __future__ import annotations

from .base import AdapterEnv, AppKind
from .linkbase import LinkAdapter

FOOOCUS_MAPPING: dict[str, tuple[str, ...]] = {
    "checkpoint": ("checkpoints",),
    "lora": ("loras",),
    "embedding": ("embeddings",),
    "vae": ("vae",),
    "vae_approx": ("vae_approx",),
    "upscaler": ("upscale_models",),
    "controlnet": ("controlnet",),
    "ip_adapter": ("controlnet",),
    "clip_vision": ("clip_vision",),
}


class FooocusAdapter(LinkAdapter):
    kind = AppKind.FOOOCUS
    mapping = FOOOCUS_MAPPING
    base = "models"
    markers = ("fooocus_version.py", "entry_with_update.py")


def build(env: AdapterEnv) -> FooocusAdapter:
    return FooocusAdapter(env)
