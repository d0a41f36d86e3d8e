"""What classification must NOT say: near-miss layouts, mixed evidence, metadata that disagrees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from modelshelf.classify import probe_file

from .layouts import headers, write_fixture


def _subset(path: Path, name: str, keep, metadata: dict[str, str] | None = None) -> Path:
    tensors = {k: np.zeros(shape, dtype=np.float16) for k, (_, shape) in headers()[name]["tensors"].items() if keep(k)}
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize("name,not_family", [
    ("unet_sd15_ldm", "sdxl"), ("unet_sd15_diffusers", "sdxl"), ("unet_sdxl_ldm", "sd15"),
    ("lora_flux_kohya", "sdxl"), ("lora_flux_diffusers", "sdxl"), ("lora_hunyuan_video_musubi", "flux"),
    ("lora_hunyuan_video_diffusers", "flux"), ("dit_hunyuan_video_diffusers", "flux"),
    ("lora_sd3_diffusers", "qwen_image"),
    ("lora_qwen_image_diffusers", "sd3"), ("dit_qwen_image_diffusers", "sd3"), ("lora_sd2_kohya", "sd15"),
])
def test_look_alikes_are_told_apart(tmp_path: Path, name: str, not_family: str) -> None:
    cls = probe_file(write_fixture(tmp_path / "model.safetensors", name)).classification
    assert cls.family != not_family


def test_an_unknown_layout_stays_unknown_with_low_confidence(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    zeros = np.zeros((2, 4), np.float16)
    save_file({"encoder.stem.conv.weight": zeros, "head.fc.weight": zeros}, str(path))
    cls = probe_file(path).classification
    assert (cls.model_type, cls.family) == ("unknown", "unknown")
    assert cls.confidence < 0.2


def test_an_sd15_unet_with_sdxl_label_emb_grafted_on_is_not_given_a_family(tmp_path: Path) -> None:
    tensors = {k: np.zeros(s, np.float16) for k, (_, s) in headers()["unet_sd15_ldm"]["tensors"].items()}
    tensors["label_emb.0.0.weight"] = np.zeros((4, 4), np.float16)
    save_file(tensors, str(tmp_path / "model.safetensors"))
    cls = probe_file(tmp_path / "model.safetensors").classification
    assert (cls.model_type, cls.family) == ("diffusion_model", "unknown")


def test_a_lora_whose_names_leave_the_family_open_takes_it_from_kohya_metadata(tmp_path: Path) -> None:
    # only the fused qkv of the double blocks: Flux and HunyuanVideo both name it so in kohya form
    keep = lambda k: "_img_attn_qkv." in k  # noqa: E731
    path = _subset(tmp_path / "model.safetensors", "lora_flux_kohya", keep)
    assert probe_file(path).classification.family == "unknown"
    path = _subset(tmp_path / "meta.safetensors", "lora_flux_kohya", keep, {"ss_base_model_version": "flux1"})
    cls = probe_file(path).classification
    assert (cls.model_type, cls.family, cls.method) == ("lora", "flux", "file_metadata")


def test_tensor_names_beat_metadata_that_disagrees(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "model.safetensors", "lora_sdxl_kohya", {"ss_base_model_version": "sd_v1"})
    cls = probe_file(path).classification
    assert (cls.family, cls.method) == ("sdxl", "tensor_names")


def test_sd15_lora_touching_only_shared_blocks_is_not_guessed(tmp_path: Path) -> None:
    # down_blocks.1/2 attention exist in both SD 1.5 and SDXL; without level 0 or SDXL's deep blocks
    # the names do not decide, so the family stays unknown rather than a guess
    keep = lambda k: k.startswith("unet.down_blocks.1.attentions.0.transformer_blocks.0.")  # noqa: E731
    cls = probe_file(_subset(tmp_path / "model.safetensors", "lora_sd15_diffusers", keep)).classification
    assert (cls.model_type, cls.family) == ("lora", "unknown")


def test_file_name_fills_only_an_unknown_family(tmp_path: Path) -> None:
    path = write_fixture(tmp_path / "taef1_decoder.safetensors", "taesd_16ch_decoder_original")
    cls = probe_file(path).classification
    assert (cls.model_type, cls.family) == ("vae_approx", "flux")
    cls = probe_file(write_fixture(tmp_path / "sdxl_unet.safetensors", "unet_sd15_ldm")).classification
    assert cls.family == "sd15"  # the names decided; "sdxl" in the file name does not override them


def test_a_lora_on_flux_single_blocks_only_is_flux(tmp_path: Path) -> None:
    keep = lambda k: k.startswith("transformer.single_transformer_blocks.")  # noqa: E731
    cls = probe_file(_subset(tmp_path / "model.safetensors", "lora_flux_diffusers", keep)).classification
    assert (cls.model_type, cls.family) == ("lora", "flux")


def test_kohya_ldm_block_names_mean_sdxl_where_the_blocks_leave_it_open(tmp_path: Path) -> None:
    # input_blocks.4.1 carries attention in both UNets, but sd-scripts only uses ldm names for SDXL
    keep = lambda k: k.startswith("lora_unet_input_blocks_4_1_transformer_blocks_0_")  # noqa: E731
    cls = probe_file(_subset(tmp_path / "model.safetensors", "lora_sdxl_kohya", keep)).classification
    assert (cls.model_type, cls.family) == ("lora", "sdxl")


@pytest.mark.parametrize("original,family", [("dit_flux_original", "flux"),
                                             ("dit_hunyuan_video_original", "hunyuan_video")])
def test_comfyui_lora_on_attention_only_is_told_by_its_dots(tmp_path: Path, original: str, family: str) -> None:
    # flux `img_attn.qkv` vs hunyuan `img_attn_qkv`: the same once kohya turns dots into "_", but
    # ComfyUI/ai-toolkit LoRAs keep the original module names under diffusion_model.
    modules = [k.removesuffix(".weight") for k in headers()[original]["tensors"]
               if k.startswith("double_blocks.") and ("attn.qkv.weight" in k or "attn_qkv.weight" in k)]
    tensors = {f"diffusion_model.{m}.lora_{ab}.weight": np.zeros((2, 2), np.float16) for m in modules for ab in "AB"}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    cls = probe_file(tmp_path / "model.safetensors").classification
    assert (cls.model_type, cls.family) == ("lora", family)
