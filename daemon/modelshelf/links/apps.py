"""Compatibility names: app kinds now live in modelshelf.apps (one adapter module per kind)."""

from __future__ import annotations

import glob
from pathlib import Path

from ..apps.base import AppInstall
from ..apps.comfyui import COMFYUI_MAPPING
from ..config import AppConfig

__all__ = ["COMFYUI_MAPPING", "AppInstall", "discover_installs", "fixed_root"]


def fixed_root(app: AppConfig) -> Path:
    """The part of an app root before its first wildcard: where every install it matches lives."""
    parts = Path(app.pattern).parts
    cut = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    return Path(*parts[:cut])


def discover_installs(apps: tuple[AppConfig, ...]) -> list[AppInstall]:
    """Every configured install that exists now, recognised by its kind's adapter (no links made)."""
    from ..apps.discover import configured_installs
    return configured_installs(apps)
