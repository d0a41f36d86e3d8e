"""The hashes people search by: AutoV2 and a trainer's own hashes from the safetensors header
(kohya's sshs_model_hash, the model spec's hash_sha256) are kept in metadata.json and found by
`search`, `show` (resolve) and a rebuilt index alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from modelshelf.config import ImportMode
from modelshelf.index import ModelIndex, rebuild_index
from modelshelf.ingest import ImportJob
from modelshelf.shelf import Shelf

SSHS = "ab12" * 16
MODELSPEC = "cd34" * 16


def kohya_lora(path: Path) -> Path:
    tensors = {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": np.ones((4, 8), np.float16),
               "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": np.ones((8, 4), np.float16)}
    save_file(tensors, str(path), metadata={"sshs_model_hash": SSHS, "sshs_legacy_hash": "0badcafe",
                                            "modelspec.hash_sha256": "0x" + MODELSPEC})
    return path


def test_header_hashes_are_recorded_searched_and_rebuilt(shelf: Shelf, tmp_path: Path) -> None:
    result = shelf.importer().run(ImportJob(kohya_lora(tmp_path / "style.safetensors"), ImportMode.COPY))
    data = json.loads((shelf.library.folder(result.path) / "metadata.json").read_text())
    assert data["hashes"] == {"blake3": data["hashes"]["blake3"], "sha256": data["hashes"]["sha256"],
                                   "autov2": data["hashes"]["sha256"][:10].upper(), "sshs_model_hash": SSHS,
                                   "sshs_legacy_hash": "0badcafe", "modelspec_sha256": MODELSPEC}
    for query in (SSHS[:12], MODELSPEC[:10].upper(), "0badcafe", data["hashes"]["autov2"]):
        assert [m.model_id for m in shelf.index.search(query)] == [result.model_id], query
        assert shelf.index.resolve(query).model_id == result.model_id, query
    assert shelf.index.search("ab12ab12ab12ab13") == []          # a prefix, not any substring
    live = shelf.index.dump()
    fresh = ModelIndex(tmp_path / "fresh.db")
    rebuild_index(shelf.library, fresh)
    assert fresh.dump() == live
    fresh.close()
