from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from modelshelf.classify import ModelFormat, probe_file, probe_folder
from modelshelf.classify.gguf import GGML_BLOCKS
from modelshelf.errors import NotAModelError, TruncatedModelError

from ..models import SAFETENSORS_KINDS, write_diffusers, write_gguf, write_safetensors, write_torch_zip


@pytest.mark.parametrize("kind", sorted(SAFETENSORS_KINDS))
def test_safetensors_kinds_are_classified(tmp_path: Path, kind: str) -> None:
    _, _, model_type, family = SAFETENSORS_KINDS[kind]
    probe = probe_file(write_safetensors(tmp_path / f"{kind}.safetensors", kind))
    assert probe.format is ModelFormat.SAFETENSORS
    assert (probe.classification.model_type, probe.classification.family) == (model_type, family)
    assert probe.classification.confidence >= 0.4


@pytest.mark.parametrize("arch,model_type,family", [
    ("llama", "llm", "llama"), ("qwen2", "llm", "qwen2"), ("flux", "diffusion_model", "flux"),
    ("sdxl", "diffusion_model", "sdxl"), ("t5encoder", "text_encoder", "t5xxl"),
])
def test_gguf_is_classified_from_its_architecture(tmp_path: Path, arch, model_type, family) -> None:
    probe = probe_file(write_gguf(tmp_path / "m.gguf", arch, name="Some Model 8B"))
    assert probe.format is ModelFormat.GGUF
    assert (probe.classification.model_type, probe.classification.family) == (model_type, family)
    assert probe.official_name == "Some Model 8B"
    assert probe.details["general.architecture"] == arch


def test_gguf_block_table_matches_the_gguf_package() -> None:
    import gguf
    for kind, (block, size) in GGML_BLOCKS.items():
        assert tuple(gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]) == (block, size)


def test_torch_zip_keys_classify_without_unpickling(tmp_path: Path) -> None:
    keys = ["model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.decoder.conv_in.weight",
            "cond_stage_model.transformer.text_model.final_layer_norm.weight"]
    probe = probe_file(write_torch_zip(tmp_path / "v1-5-pruned.ckpt", keys))
    assert probe.format is ModelFormat.TORCH
    assert (probe.classification.model_type, probe.classification.family) == ("checkpoint", "sd15")


def test_legacy_pickle_falls_back_to_file_name(tmp_path: Path) -> None:
    path = tmp_path / "4x_foolhardy_Remacri.pth"
    path.write_bytes(b"\x80\x02" + b"\x00" * 64)
    cls = probe_file(path).classification
    assert (cls.model_type, cls.method) == ("upscaler", "filename")
    assert cls.confidence < 0.5


def test_diffusers_folder(tmp_path: Path) -> None:
    probe = probe_folder(write_diffusers(tmp_path / "sdxl-base"))
    assert probe.format is ModelFormat.DIFFUSERS
    assert (probe.classification.model_type, probe.classification.family) == ("diffusers", "sdxl")


# -- rejected inputs, each with its message ----------------------------------------------------

@pytest.mark.bad_input
def test_truncated_safetensors(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "cut.safetensors", "clip_l")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 100)
    with pytest.raises(TruncatedModelError, match=rf"describes {size} bytes but the file has {size - 100}"):
        probe_file(path)


@pytest.mark.bad_input
def test_safetensors_with_trailing_bytes(tmp_path: Path) -> None:
    path = write_safetensors(tmp_path / "extra.safetensors", "clip_l")
    with open(path, "ab") as f:
        f.write(b"junk")
    with pytest.raises(NotAModelError, match="4 unexpected bytes after the tensor data"):
        probe_file(path)


_OFFSETS_HEADER = json.dumps({"a": {"dtype": "F16", "shape": [1], "data_offsets": [4, 2]}}).encode()
MALFORMED = [  # (file name, its bytes, the message the refusal must carry)
    ("absurd.safetensors", struct.pack("<Q", 1 << 60) + b"{}" * 10, "header length 1152921504606846976 is impossible"),
    ("bad.safetensors", struct.pack("<Q", 5) + b"nope!", "not valid JSON"),
    ("offsets.safetensors", struct.pack("<Q", len(_OFFSETS_HEADER)) + _OFFSETS_HEADER + b"\0" * 4, "bad offsets 4..2"),
    ("fake.gguf", b"GGML" + b"\0" * 100, "bad GGUF magic"),
    ("empty.safetensors", b"", r"empty \(0 bytes\)"),
    ("readme.txt", b"hello", "'.txt' is not a model file type"),
    ("random.bin", b"\x00\x01\x02\x03" * 10, "not a PyTorch file"),
]


@pytest.mark.bad_input
@pytest.mark.parametrize("name,data,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_are_refused_with_the_reason(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(NotAModelError, match=message):
        probe_file(path)


@pytest.mark.bad_input
def test_truncated_gguf(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "cut.gguf", "llama")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 16)
    with pytest.raises(TruncatedModelError, match="truncated"):
        probe_file(path)


@pytest.mark.bad_input
def test_truncated_torch_zip(tmp_path: Path) -> None:
    path = write_torch_zip(tmp_path / "cut.ckpt", ["a.weight"])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(NotAModelError, match="damaged or truncated PyTorch archive"):
        probe_file(path)
