"""App installs (ComfyUI first) and where each model type goes inside them."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from ..config import AppConfig, AppKind, LinkPolicy

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
}


@dataclass(frozen=True)
class AppInstall:
    """One install of an app, e.g. ~/comfyui-versions/v0.3.40."""

    root: Path
    kind: AppKind
    link: LinkPolicy
    mapping: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def models(self) -> Path:
        return self.root / "models"

    def folder_for(self, model_type: str) -> Path | None:
        """The existing models/ subfolder for a model type in this install (custom nodes add
        folders at run time, so this looks every time), or None."""
        for name in dict(self.mapping).get(model_type, ()):
            candidate = self.models / name
            if candidate.is_dir() and not candidate.is_symlink():
                return candidate
        return None


def mapping_for(app: AppConfig) -> tuple[tuple[str, tuple[str, ...]], ...]:
    merged = {**COMFYUI_MAPPING, **app.mapping}
    return tuple(sorted(merged.items()))


def fixed_root(app: AppConfig) -> Path:
    """The part of an app root before its first wildcard: where every install it matches lives."""
    parts = Path(app.pattern).parts
    cut = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    return Path(*parts[:cut])


def discover_installs(apps: tuple[AppConfig, ...]) -> list[AppInstall]:
    """Every configured install that exists now and has a models/ folder."""
    installs = []
    for app in apps:
        for path in app.roots():
            if (path / "models").is_dir():
                installs.append(AppInstall(path, app.kind, app.link, mapping_for(app)))
    return installs
