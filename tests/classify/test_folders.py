"""Folder models: the family comes from config.json (diffusers' block types, transformers' model_type)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelshelf.classify import probe_folder

from .layouts import extras, write_config_folder


@pytest.mark.parametrize("config,weights,model_type,family", [
    ("unet_sd15", "unet_sd15_diffusers", "diffusion_model", "sd15"),
    ("unet_sdxl", "unet_sdxl_diffusers", "diffusion_model", "sdxl"),
    ("flux", "dit_flux_diffusers", "diffusion_model", "flux"),
    ("wan", "dit_wan_diffusers", "diffusion_model", "wan"),
    ("qwen_image", "dit_qwen_image_diffusers", "diffusion_model", "qwen_image"),
    ("t2i_adapter_sdxl", "t2i_adapter_sdxl_diffusers", "t2i_adapter", "sdxl"),
    ("motion_adapter", "motion_module_sd15_diffusers", "motion_module", "sd15"),
    ("taesd", "taesd_sd_diffusers", "vae_approx", "sd"),
    ("controlnet_sdxl", "controlnet_sdxl_diffusers", "controlnet", "sdxl"),
])
def test_diffusers_components(tmp_path: Path, config: str, weights: str, model_type: str, family: str) -> None:
    probe = probe_folder(write_config_folder(tmp_path / "component", config, weights))
    assert (probe.classification.model_type, probe.classification.family) == (model_type, family)


@pytest.mark.parametrize("model_type", ["llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text",
                                        "phi", "phi3"])
def test_transformers_folder_family_is_its_model_type(tmp_path: Path, model_type: str) -> None:
    folder = write_config_folder(tmp_path / "some-model", f"llm_{model_type}")
    cls = probe_folder(folder).classification
    assert (cls.model_type, cls.family) == ("llm", model_type)
    assert cls.family != "transformers"


def test_transformers_folder_without_model_type_has_no_family(tmp_path: Path) -> None:
    config = {k: v for k, v in extras()["configs"]["llm_llama"].items() if k != "model_type"}
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    assert probe_folder(tmp_path / "m").classification.family == "unknown"


@pytest.mark.parametrize("pipeline,family", [
    ("StableDiffusionXLPipeline", "sdxl"), ("StableDiffusionPipeline", "sd15"), ("StableDiffusion3Pipeline", "sd3"),
    ("FluxPipeline", "flux"), ("QwenImagePipeline", "qwen_image"), ("WanPipeline", "wan"),
    ("HunyuanVideoPipeline", "hunyuan_video"), ("LTXPipeline", "ltx"), ("Flux2Pipeline", "flux2"),
])
def test_pipeline_family_from_model_index(tmp_path: Path, pipeline: str, family: str) -> None:
    folder = tmp_path / "pipe"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": pipeline}))
    cls = probe_folder(folder).classification
    assert (cls.model_type, cls.family) == ("diffusers", family)


@pytest.mark.bad_input
@pytest.mark.parametrize("config", [
    {"_class_name": "MotionAdapter", "block_out_channels": 5},
    {"_class_name": "UNet2DConditionModel", "down_block_types": "CrossAttnDownBlock2D"},
    {"architectures": "LlamaForCausalLM", "model_type": ["llama"]},
    {"_class_name": "T2IAdapter", "adapter_type": None},
])
def test_odd_config_values_give_an_unknown_family_not_a_traceback(tmp_path: Path, config: dict) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    cls = probe_folder(tmp_path / "m").classification
    assert cls.family == "unknown"
