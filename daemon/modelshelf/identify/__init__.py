"""Identifying models with several providers (the Hub, CivitAI) behind one interface, and the
rule that merges what they say (merge.py).

Names are imported on first use (PEP 562): `modelshelf show` needs the merge rule, not the HTTP
clients of every provider (huggingface_hub alone costs a second to import)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "CivitaiClient": "civitai", "CivitaiProvider": "civitai", "CivitaiSettings": "civitai",
    "build_civitai": "civitai", "civitai_settings": "civitai",
    "PreviewRejectedError": "errors", "ProviderAnswerError": "errors", "ProviderUnavailableError": "errors",
    "HubProvider": "hub_provider",
    "FamilyDecision": "merge", "Identification": "merge", "ProviderState": "merge", "Status": "merge",
    "best_match": "merge", "decide_family": "merge", "record": "merge",
    "PreviewDownloader": "previews", "PreviewSaver": "previews", "choose_preview": "previews",
    "save_preview": "previews",
    "Answer": "provider", "GoneUpstream": "provider", "LookupFailed": "provider", "Method": "provider",
    "NotFound": "provider", "Provider": "provider", "ProviderMatch": "provider",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
