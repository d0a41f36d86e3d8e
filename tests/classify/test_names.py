"""File-name hints: the last resort when a file (a legacy pickle) names no tensors we can read."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.classify import probe_file


@pytest.mark.parametrize("name,model_type,family", [
    ("ip-adapter_sd15.bin", "ip_adapter", "sd15"), ("ip-adapter_sdxl_vit-h.bin", "ip_adapter", "sdxl"),
    ("t2iadapter_canny_sd15v2.pth", "t2i_adapter", "sd15"), ("mm_sd_v15_v2.ckpt", "motion_module", "sd15"),
    ("hypernetwork_anime.pt", "hypernetwork", "unknown"), ("taesdxl_decoder.pth", "vae_approx", "sdxl"),
    ("taef1_encoder.pth", "vae_approx", "flux"), ("control_v11p_sd15_canny.pth", "controlnet", "sd15"),
    ("wan2.1_t2v_lora.pt", "lora", "wan"), ("hunyuan_video_lora.pt", "lora", "hunyuan_video"),
    ("qwen-image-lightning-lora.pt", "lora", "qwen_image"),
])
def test_legacy_pickles_fall_back_to_the_file_name(tmp_path: Path, name: str, model_type: str, family: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x80\x02" + b"\x00" * 64)  # a pre-zip torch pickle: no key listing to read
    cls = probe_file(path).classification
    assert (cls.model_type, cls.family, cls.method) == (model_type, family, "filename")
    assert cls.confidence < 0.5
