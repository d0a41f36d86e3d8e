"""Hashes people search for: AutoV2 and the ones a safetensors header carries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelshelf.classify import HeaderHashes, autov2, is_autov2, matches_autov2, probe_file

from .layouts import write_fixture

SHA = hashlib.sha256(b"model").hexdigest()


def test_header_hashes_are_exposed_on_the_probe(tmp_path: Path) -> None:
    # kohya sd-scripts writes sshs_*; the Stability model spec writes modelspec.hash_sha256 with 0x
    meta = {"sshs_model_hash": SHA.upper(), "sshs_legacy_hash": "A1B2C3D4",
            "modelspec.hash_sha256": "0x" + SHA, "ss_base_model_version": "sdxl_base_v1-0"}
    probe = probe_file(write_fixture(tmp_path / "model.safetensors", "lora_sdxl_kohya", meta))
    assert probe.hashes == HeaderHashes(SHA, "a1b2c3d4", SHA)
    assert probe.hashes.values() == (SHA, "a1b2c3d4", SHA)


@pytest.mark.bad_input
@pytest.mark.parametrize("value", ["", "xyz", SHA[:-1], SHA + "0", "g" * 64, "0x" + SHA[:20]])
def test_malformed_header_hashes_are_dropped(tmp_path: Path, value: str) -> None:
    meta = {"sshs_model_hash": value, "modelspec.hash_sha256": value}
    probe = probe_file(write_fixture(tmp_path / "model.safetensors", "lora_sd15_kohya", meta))
    assert probe.hashes == HeaderHashes()


def test_no_metadata_no_hashes(tmp_path: Path) -> None:
    assert probe_file(write_fixture(tmp_path / "model.safetensors", "unet_sd15_ldm")).hashes.values() == ()


def test_autov2_is_the_first_ten_hex_digits_uppercase() -> None:
    assert autov2(SHA) == SHA[:10].upper()
    assert autov2(SHA.upper()) == SHA[:10].upper()
    with pytest.raises(ValueError, match="not a SHA-256"):
        autov2("1234")


def test_autov2_search_accepts_either_case() -> None:
    assert matches_autov2(SHA[:10].upper(), SHA)
    assert matches_autov2(SHA[:10], SHA.upper())
    assert not matches_autov2(SHA[:9], SHA)        # too short to be an AutoV2
    assert not matches_autov2("0123456789", SHA)
    assert is_autov2("ABCDEF0123") and not is_autov2("ABCDEF012Z")
