"""Every type and family on fixtures whose tensor names come from the real libraries (see
fixtures/make_fixtures.py): diffusers, original/ComfyUI and kohya/musubi layouts alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.classify import probe_file

from .layouts import headers, write_fixture

LAYOUTS = ("diffusers", "comfy", "encoder_original", "decoder_original")  # TAESD's
EXPECTED = {  # fixture -> (type, family)
    **{f"unet_{f}_{layout}": ("diffusion_model", f) for f in ("sd15", "sd2", "sdxl")
       for layout in ("diffusers", "ldm")},
    **{f"dit_{f}_{layout}": ("diffusion_model", f) for f in ("flux", "sd3", "hunyuan_video", "wan", "ltx")
       for layout in ("diffusers", "original")},
    "dit_qwen_image_diffusers": ("diffusion_model", "qwen_image"),
    "unet_sdxl_refiner_diffusers": ("diffusion_model", "sdxl"), "unet_sdxl_refiner_ldm": ("diffusion_model", "sdxl"),
    "lora_sd15_kohya": ("lora", "sd15"), "lora_sd15_diffusers": ("lora", "sd15"), "lora_sd2_kohya": ("lora", "sd2"),
    "lora_sdxl_kohya": ("lora", "sdxl"), "lora_sdxl_diffusers": ("lora", "sdxl"),
    "lora_flux_diffusers": ("lora", "flux"), "lora_flux_kohya": ("lora", "flux"), "lora_flux_comfy": ("lora", "flux"),
    "lora_sd3_diffusers": ("lora", "sd3"), "lora_sd3_kohya": ("lora", "sd3"),
    "lora_hunyuan_video_diffusers": ("lora", "hunyuan_video"), "lora_hunyuan_video_musubi": ("lora", "hunyuan_video"),
    "lora_wan_diffusers": ("lora", "wan"), "lora_wan_musubi": ("lora", "wan"), "lora_wan_comfy": ("lora", "wan"),
    "lora_ltx_diffusers": ("lora", "ltx"), "lora_qwen_image_diffusers": ("lora", "qwen_image"),
    "checkpoint_sd15": ("checkpoint", "sd15"), "checkpoint_sdxl": ("checkpoint", "sdxl"),
    "checkpoint_flux_comfy": ("checkpoint", "flux"),
    "controlnet_sd15_diffusers": ("controlnet", "sd15"), "controlnet_sd15_ldm": ("controlnet", "sd15"),
    "controlnet_sdxl_diffusers": ("controlnet", "sdxl"), "controlnet_flux_diffusers": ("controlnet", "flux"),
    "controlnet_sd3_diffusers": ("controlnet", "sd3"),
    "t2i_adapter_sd15_diffusers": ("t2i_adapter", "sd15"), "t2i_adapter_sdxl_diffusers": ("t2i_adapter", "sdxl"),
    "t2i_adapter_light_diffusers": ("t2i_adapter", "sd15"), "t2i_adapter_sd15_original": ("t2i_adapter", "sd15"),
    "ip_adapter_sd15": ("ip_adapter", "sd15"), "ip_adapter_sdxl": ("ip_adapter", "sdxl"),
    **{f"motion_module_{f}_{layout}": ("motion_module", f) for f in ("sd15", "sdxl")
       for layout in ("diffusers", "original")},
    # TAESD and TAESDXL share one layout, as do TAEF1 and TAESD3: 4 latent channels say "sd", 16 nothing
    **{f"taesd_sd_{layout}": ("vae_approx", "sd") for layout in LAYOUTS},
    **{f"taesd_16ch_{layout}": ("vae_approx", "unknown") for layout in LAYOUTS},
    "mmproj_llava_transformers": ("mmproj", "llava"), "mmproj_llava_original": ("mmproj", "llava"),
    "mmproj_gemma3_transformers": ("mmproj", "gemma3"),
    "vlm_gemma3": ("llm", "gemma3"),   # the whole model, vision tower included, is the LLM
    "llm_llama": ("llm", "llama"), "llm_qwen2": ("llm", "qwen2"), "llm_qwen3": ("llm", "qwen3"),
    "llm_gemma2": ("llm", "gemma2"), "llm_gemma3_text": ("llm", "gemma3"), "llm_phi": ("llm", "phi"),
    "llm_phi3": ("llm", "phi3"),
    # Mistral and Gemma 1 carry Llama's tensor names exactly; only their config.json tells them apart
    "llm_mistral": ("llm", "llama"), "llm_gemma": ("llm", "llama"),
}


def test_every_fixture_has_an_expectation() -> None:
    assert set(EXPECTED) == set(headers())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_type_and_family_from_tensor_names(tmp_path: Path, name: str) -> None:
    # a neutral file name: the names inside must decide, not a hint in the file name
    cls = probe_file(write_fixture(tmp_path / "model.safetensors", name)).classification
    assert (cls.model_type, cls.family) == EXPECTED[name]
    assert cls.method == "tensor_names"
    assert cls.confidence >= 0.8


@pytest.mark.parametrize("name,prefix", [
    ("dit_flux_original", "model.diffusion_model."),      # ComfyUI's save_checkpoint / fp8 unet files
    ("dit_wan_original", "model.diffusion_model."),
    ("dit_qwen_image_diffusers", "model.diffusion_model."),  # ComfyUI keeps diffusers names for Qwen-Image
    ("dit_hunyuan_video_original", "model.diffusion_model."),
    ("unet_sdxl_ldm", "model.diffusion_model."),
    ("dit_ltx_original", "model.diffusion_model."),
])
def test_comfyui_prefixed_diffusion_models(tmp_path: Path, name: str, prefix: str) -> None:
    path = write_fixture(tmp_path / "model.safetensors", name, rename={"": prefix})
    assert all(n.startswith(prefix) for n in _names(path))
    cls = probe_file(path).classification
    assert (cls.model_type, cls.family) == EXPECTED[name]


def _names(path: Path) -> list[str]:
    from safetensors import safe_open
    with safe_open(str(path), "numpy") as f:
        return list(f.keys())
