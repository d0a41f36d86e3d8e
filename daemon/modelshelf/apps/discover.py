"""Installs on this machine: the configured ones (by each kind's adapter) and, for
`modelshelf apps discover`, the usual places each app is installed, told apart by its own
marker files."""

from __future__ import annotations

from pathlib import Path

from ..config import AppConfig
from . import build_adapter
from .base import AdapterEnv, AppInstall


def _finder_env() -> AdapterEnv:
    # find_installs only reads the app's folders: it never uses the library or the link maker.
    return AdapterEnv(Path("/"), None)  # type: ignore[arg-type]


def configured_installs(apps: tuple[AppConfig, ...]) -> list[AppInstall]:
    """Every configured install that exists now, recognised by its kind's adapter."""
    env = _finder_env()
    return [i for app in apps for i in build_adapter(app.kind, env).find_installs(app)]
