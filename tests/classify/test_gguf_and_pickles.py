"""GGUF vision projectors (mmproj) and AUTOMATIC1111 hypernetworks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelshelf.classify import probe_file

from .layouts import write_torch_pickle


def _write_clip_gguf(path: Path, projector: str | None, llava_flag: bool = False, mm_tensors: bool = True) -> Path:
    """A CLIP GGUF laid out as llama.cpp's convert_hf_to_gguf writes mmproj files: arch `clip`, the
    key and tensor names taken from gguf-py's own constants."""
    import gguf

    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.MMPROJ])
    writer.add_bool(gguf.Keys.Clip.HAS_VISION_ENCODER, True)
    if projector:
        writer.add_string(gguf.Keys.Clip.PROJECTOR_TYPE, projector)
    if llava_flag:
        writer.add_bool(gguf.Keys.Clip.HAS_LLAVA_PROJECTOR, True)
    names = [gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.V_ENC_EMBD_PATCH],
             gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.V_ENC_ATTN_Q].format(bid=0)]
    if mm_tensors:
        names += [gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.V_MMPROJ].format(bid=i) for i in (0, 2)]
    for name in names:
        writer.add_tensor(name, np.zeros((4, 4), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("projector,flag,family", [
    ("mlp", False, "llava"), ("qwen2vl_merger", False, "qwen2vl_merger"), (None, True, "llava"), (None, False, "llava"),
])
def test_gguf_mmproj(tmp_path: Path, projector, flag, family) -> None:
    cls = probe_file(_write_clip_gguf(tmp_path / "mmproj-model-f16.gguf", projector, flag)).classification
    assert (cls.model_type, cls.family, cls.method) == ("mmproj", family, "gguf_architecture")


def test_gguf_clip_without_a_projector_is_a_clip_vision_model(tmp_path: Path) -> None:
    cls = probe_file(_write_clip_gguf(tmp_path / "clip.gguf", None, mm_tensors=False)).classification
    assert cls.model_type == "clip_vision"


def test_a1111_hypernetwork_from_its_pickle_without_unpickling(tmp_path: Path) -> None:
    # the data.pkl torch.save wrote for A1111's Hypernetwork.save(); a neutral file name
    cls = probe_file(write_torch_pickle(tmp_path / "model.pt", "hypernetwork.pt")).classification
    assert (cls.model_type, cls.method) == ("hypernetwork", "tensor_names")


@pytest.mark.parametrize("name,model_type,family", [
    ("ip-adapter_sd15.bin", "ip_adapter", "sd15"), ("mm_sd_v15_v2.ckpt", "motion_module", "sd15"),
])
def test_torch_pickled_adapters(tmp_path: Path, name: str, model_type: str, family: str) -> None:
    cls = probe_file(write_torch_pickle(tmp_path / ("model" + Path(name).suffix), name)).classification
    assert (cls.model_type, cls.family, cls.method) == (model_type, family, "tensor_names")


def test_gguf_typed_mmproj_and_lora_adapter(tmp_path: Path) -> None:
    """llama.cpp marks files with general.type: "mmproj" projectors and "adapter" LoRAs."""
    import gguf

    def write(path: Path, arch: str, kind: str, extra: dict[str, str]) -> Path:
        writer = gguf.GGUFWriter(str(path), arch)
        writer.add_type(kind)
        for key, value in extra.items():
            writer.add_string(key, value)
        writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 4), dtype=np.float16))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path

    lora = write(tmp_path / "adapter.gguf", "llama", gguf.GGUFType.ADAPTER, {gguf.Keys.Adapter.TYPE: "lora"})
    cls = probe_file(lora).classification
    assert (cls.model_type, cls.family) == ("lora", "llama")
    projector = {gguf.Keys.ClipVision.PROJECTOR_TYPE: "gemma3"}
    mmproj = write(tmp_path / "proj.gguf", "clip", gguf.GGUFType.MMPROJ, projector)
    cls = probe_file(mmproj).classification
    assert (cls.model_type, cls.family) == ("mmproj", "gemma3")
