"""A model's identification as JSON-ready data (for `show`, `identify` and the socket)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..library.metadata import ModelMetadata
from . import merge


def identification_view(meta: ModelMetadata, path: str, order: Sequence[str] = ()) -> dict[str, Any]:
    """A model's identification as JSON-ready data: the best match's facts and each provider's answer."""
    ident = merge.from_dict(meta.identification)
    best = merge.best_match(ident, order)
    return {"model_id": meta.model_id, "path": path, "autov2": meta.autov2, "official_name": meta.official_name,
            "family": meta.family, "family_source": meta.family_source, "preview": meta.preview,
            "base_model": best.base_model if best else None,
            "trained_words": list(best.trained_words) if best else [],
            "best": best.ref if best else None, "pending": meta.pending_online_lookup,
            "providers": merge.to_dict(ident)}
