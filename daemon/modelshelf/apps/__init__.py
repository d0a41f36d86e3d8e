"""App adapters: one module per app kind behind one interface (see base.py).

Each adapter module defines `build(env: AdapterEnv) -> Adapter`. Modules are imported when a
kind is first used, so an install of one kind never loads another kind's code.
"""

from __future__ import annotations

import importlib

from ..errors import ModelshelfError
from .base import (
    Adapter,
    AdapterEnv,
    AppInstall,
    AppKind,
    Applied,
    ApplyStatus,
    Finding,
    LibraryModel,
    LinkKind,
    LinkRecord,
    ModelFile,
    Placement,
    PlacementMethod,
    Problem,
    RegistryEntry,
)

# kind -> module under modelshelf.apps that builds its adapter
ADAPTER_MODULES: dict[AppKind, str] = {
    AppKind.COMFYUI: "comfyui",
    AppKind.A1111: "a1111",
    AppKind.FORGE: "forge",
    AppKind.SDNEXT: "sdnext",
    AppKind.SWARMUI: "swarmui",
    AppKind.FOOOCUS: "fooocus",
    AppKind.INVOKEAI: "invokeai",
    AppKind.LMSTUDIO: "lmstudio",
    AppKind.OLLAMA: "ollama",
    AppKind.LLAMACPP: "llamacpp",
    AppKind.TEXTGEN: "textgen",
    AppKind.FOLDERS: "folders",
}


class AdapterMissing(ModelshelfError):
    """A configured kind whose adapter is not part of this build."""


def build_adapter(kind: AppKind, env: AdapterEnv) -> Adapter:
    """The adapter for one kind, built with env."""
    name = ADAPTER_MODULES[kind]
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.{name}":
            raise
        raise AdapterMissing(f"app kind {kind.value!r} is not available in this build of modelshelf") from None
    return module.build(env)


class Adapters:
    """The adapters one owner (a Linker, a health check) uses, each built once on first use."""

    def __init__(self, env: AdapterEnv) -> None:
        self.env = env
        self._built: dict[AppKind, Adapter] = {}

    def __call__(self, kind: AppKind) -> Adapter:
        if kind not in self._built:
            self._built[kind] = build_adapter(kind, self.env)
        return self._built[kind]


__all__ = ["ADAPTER_MODULES", "Adapters", "Adapter", "AdapterEnv", "AdapterMissing", "AppInstall", "AppKind", "Applied",
           "ApplyStatus", "Finding", "LibraryModel", "LinkKind", "LinkRecord", "ModelFile", "Placement",
           "PlacementMethod", "Problem", "RegistryEntry", "build_adapter"]
