"""Folder models: a diffusers pipeline (model_index.json) or one component or transformers model
(config.json). Classes are read from the JSON, never imported."""

from __future__ import annotations

import json
from pathlib import Path

from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelType

# class-name markers, most specific first ("StableDiffusionXL" before "StableDiffusion", "Flux2" before "Flux")
_CLASS_FAMILIES = [("StableDiffusionXL", "sdxl"), ("SDXL", "sdxl"), ("StableDiffusion3", "sd3"), ("SD3", "sd3"),
                   ("Flux2", "flux2"), ("Flux", "flux"), ("QwenImage", "qwen_image"), ("StableDiffusion", "sd15"),
                   ("PixArt", "pixart"), ("Wan", "wan"), ("HunyuanVideo", "hunyuan_video"), ("LTX", "ltx"),
                   ("Sana", "sana"), ("Chroma", "chroma")]
_COMPONENTS = [("AutoencoderTiny", ModelType.VAE_APPROX), ("AutoencoderKL", ModelType.VAE),
               ("ControlNet", ModelType.CONTROLNET), ("T2IAdapter", ModelType.T2I_ADAPTER),
               ("MotionAdapter", ModelType.MOTION_MODULE),
               ("UNet2DCondition", ModelType.DIFFUSION_MODEL), ("UNetMotion", ModelType.DIFFUSION_MODEL),
               ("Transformer2DModel", ModelType.DIFFUSION_MODEL), ("Transformer3DModel", ModelType.DIFFUSION_MODEL),
               ("CLIPVision", ModelType.CLIP_VISION), ("CLIPText", ModelType.TEXT_ENCODER),
               ("T5Encoder", ModelType.TEXT_ENCODER), ("UMT5Encoder", ModelType.TEXT_ENCODER),
               ("ForCausalLM", ModelType.LLM), ("ForConditionalGeneration", ModelType.LLM)]

FOLDER_MARKERS = ("model_index.json", "config.json")


def is_folder_model(folder: Path) -> bool:
    """A folder is one model (imported as a unit) when it carries a diffusers/transformers config."""
    return any((folder / m).is_file() for m in FOLDER_MARKERS)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _list(value: object) -> list:
    """A config list, or [] when a hand-edited config.json holds something else there."""
    return value if isinstance(value, list) else []


def _unet_family(config: dict) -> str:
    """SD 1.5/2 UNets start with a cross-attention block, SDXL ones with a plain one (and add
    text_time embeddings); ControlNets copy their UNet's config."""
    blocks = _list(config.get("down_block_types"))
    first = str(blocks[0]) if blocks else ""
    if config.get("addition_embed_type") == "text_time" or (first == "DownBlock2D" and len(blocks) == 3):
        return "sdxl"
    if first.startswith("CrossAttn"):
        return "sd2" if config.get("cross_attention_dim") == 1024 else "sd15"
    return UNKNOWN_FAMILY


def _component_family(cls: str, kind: ModelType, config: dict) -> str:
    if marker := next((f for m, f in _CLASS_FAMILIES if m in cls), None):
        return marker
    if kind in (ModelType.DIFFUSION_MODEL, ModelType.CONTROLNET) and "down_block_types" in config:
        return _unet_family(config)
    if kind is ModelType.T2I_ADAPTER:
        adapter = config.get("adapter_type")
        return {"full_adapter_xl": "sdxl", "full_adapter": "sd15", "light_adapter": "sd15"}.get(
            adapter if isinstance(adapter, str) else "", UNKNOWN_FAMILY)
    if kind is ModelType.MOTION_MODULE:
        return {4: "sd15", 3: "sdxl"}.get(len(_list(config.get("block_out_channels"))), UNKNOWN_FAMILY)
    if kind is ModelType.VAE_APPROX:
        return "sd" if config.get("latent_channels") == 4 else UNKNOWN_FAMILY
    # transformers configs name their architecture in model_type ("llama", "qwen2", ...)
    model_type = config.get("model_type")
    return str(model_type) if isinstance(model_type, str) and model_type else UNKNOWN_FAMILY


def classify_folder(folder: Path) -> Classification:
    index = _read_json(folder / "model_index.json")
    if index:
        cls = str(index.get("_class_name", ""))
        family = next((f for marker, f in _CLASS_FAMILIES if marker in cls), UNKNOWN_FAMILY)
        return Classification(ModelType.DIFFUSERS, family, 0.95, Method.FOLDER_CONFIG,
                              f"diffusers pipeline {cls or '(unnamed)'}")
    config = _read_json(folder / "config.json")
    names = [str(config.get("_class_name", ""))] + [str(a) for a in _list(config.get("architectures"))]
    for marker, kind in _COMPONENTS:
        cls = next((n for n in names if marker in n), None)
        if cls:
            return Classification(kind, _component_family(cls, kind, config), 0.85, Method.FOLDER_CONFIG,
                                  f"config.json names {cls}")
    return Classification(ModelType.UNKNOWN, UNKNOWN_FAMILY, 0.2, Method.FOLDER_CONFIG,
                          "config.json names no known model class")
