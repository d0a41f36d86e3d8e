"""Hashes people search for: AutoV2 and the ones a safetensors header carries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelshelf.classify import HeaderHashes, probe_file

from .layouts import write_fixture

SHA = hashlib.sha256(b"model").hexdigest()


def test_header_hashes_are_exposed_on_the_probe(tmp_path: Path) -> None:
    # kohya sd-scripts writes sshs_*; the Stability model spec writes modelspec.hash_sha256 with 0x
    meta = {"sshs_model_hash": SHA.upper(), "sshs_legacy_hash": "A1B2C3D4",
            "modelspec.hash_sha256": "0x" + SHA, "ss_base_model_version": "sdxl_base_v1-0"}
    probe = probe_file(write_fixture(tmp_path / "model.safetensors", "lora_sdxl_kohya", meta))
    assert probe.hashes == HeaderHashes(SHA, "a1b2c3d4", SHA)
    assert probe.hashes.as_dict() == {"sshs_model_hash": SHA, "sshs_legacy_hash": "a1b2c3d4", "modelspec_sha256": SHA}


@pytest.mark.bad_input
@pytest.mark.parametrize("value", ["", "xyz", SHA[:-1], SHA + "0", "g" * 64, "0x" + SHA[:20]])
def test_malformed_header_hashes_are_dropped(tmp_path: Path, value: str) -> None:
    meta = {"sshs_model_hash": value, "modelspec.hash_sha256": value}
    probe = probe_file(write_fixture(tmp_path / "model.safetensors", "lora_sd15_kohya", meta))
    assert probe.hashes == HeaderHashes()


def test_no_metadata_no_hashes(tmp_path: Path) -> None:
    assert probe_file(write_fixture(tmp_path / "model.safetensors", "unet_sd15_ldm")).hashes.as_dict() == {}

