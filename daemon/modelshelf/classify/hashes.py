"""Hashes people search for: AutoV2 (A1111, CivitAI) and the ones a safetensors header carries.

All read from the header or derived from the SHA-256 modelshelf computes anyway: no extra read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class HeaderHashes:
    """Hashes a trainer wrote into the safetensors `__metadata__`, lowercase hex, None if absent or malformed.

    sshs_model_hash: kohya sd-scripts' SHA-256 of the tensor data (the file without its header, so
    it survives metadata edits; A1111 calls it the "addnet" hash). sshs_legacy_hash: its 8-hex
    predecessor. modelspec_sha256: the Stability model spec's `modelspec.hash_sha256` ("0x" prefix
    dropped), the SHA-256 of the tensor data as the writer computed it.
    """

    sshs_model_hash: str | None = None
    sshs_legacy_hash: str | None = None
    modelspec_sha256: str | None = None

    def as_dict(self) -> dict[str, str]:
        """The hashes present, by name (metadata.json keeps them beside its own)."""
        return {name: value for name, value in (("sshs_model_hash", self.sshs_model_hash),
                                                 ("sshs_legacy_hash", self.sshs_legacy_hash),
                                                 ("modelspec_sha256", self.modelspec_sha256)) if value}


def _hex(value: str | None, length: int) -> str | None:
    if not value:
        return None
    value = value.strip().lower().removeprefix("0x")
    return value if len(value) == length and _HEX.fullmatch(value) else None


def header_hashes(metadata: Mapping[str, str]) -> HeaderHashes:
    """The hashes a safetensors `__metadata__` carries; malformed values are dropped, not trusted."""
    return HeaderHashes(_hex(metadata.get("sshs_model_hash"), 64), _hex(metadata.get("sshs_legacy_hash"), 8),
                        _hex(metadata.get("modelspec.hash_sha256"), 64))

