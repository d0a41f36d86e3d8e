"""CivitAI's base model names ("SDXL 1.0", "Pony", "Flux.1 D", "Wan Video 14B t2v", ...) mapped to
modelshelf's family names; None where no family fits (the base model is still recorded as said)."""

from __future__ import annotations

# Prefixes of the lower-cased base model, first match wins. Pony, Illustrious and NoobAI are
# SDXL fine-tunes with the SDXL UNet; "SD 1.4" and "SD 1.5 ..." share the SD1 UNet.
_PREFIXES = (
    ("sd 1.", "sd15"), ("sdxl", "sdxl"), ("pony", "sdxl"), ("illustrious", "sdxl"), ("noobai", "sdxl"),
    ("sd 3", "sd3"), ("flux.1", "flux"), ("wan video", "wan"), ("qwen", "qwen_image"),
    ("hunyuan video", "hunyuan_video"), ("ltxv", "ltx"),
)


def family_of_base_model(base_model: str | None) -> str | None:
    if not base_model:
        return None
    name = base_model.strip().lower()
    return next((family for prefix, family in _PREFIXES if name.startswith(prefix)), None)
