"""A model's identification as JSON-ready data (for `show`, `identify` and the socket)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..library.metadata import ModelMetadata
from . import merge
from .provider import Method, ProviderMatch


def identification_view(meta: ModelMetadata, path: str, order: Sequence[str] = ()) -> dict[str, Any]:
    """A model's identification as JSON-ready data: the best match's facts and each provider's answer."""
    ident = merge.from_dict(meta.identification)
    if not ident.providers and meta.hub and meta.hub.get("repo_id"):     # a v1 file: only the Hub's record
        ident = merge.record(ident, match_from_hub_record(meta.hub))
    best = merge.best_match(ident, order)
    return {"model_id": meta.model_id, "path": path, "autov2": meta.autov2,
            "header_hashes": dict(meta.header_hashes), "official_name": meta.official_name,
            "family": meta.family, "family_source": meta.family_source, "preview": meta.preview,
            "base_model": best.base_model if best else None,
            "trained_words": list(best.trained_words) if best else [],
            "best": best.ref if best else None, "pending": meta.pending_online_lookup,
            "providers": merge.to_dict(ident)}


def match_from_hub_record(hub: Mapping[str, Any]) -> ProviderMatch:
    """The Hub's `hub` record (a HubMatch as a dict) as a ProviderMatch."""
    base = hub.get("base_model")
    base = base[0] if isinstance(base, list) and base else base
    return ProviderMatch("hub", Method.SHA256 if hub.get("method") == "sha256" else Method.NAME,
                         float(hub.get("confidence") or 0.0), f"hf:{hub['repo_id']}", hub.get("official_name"),
                         base if isinstance(base, str) else None, None, (), hub.get("download_url"), dict(hub),
                         str(hub.get("reason") or ""), str(hub.get("matched_at") or ""))
