"""Folder models: a diffusers pipeline (model_index.json) or one component or transformers model
(config.json). Classes are read from the JSON, never imported."""

from __future__ import annotations

import json
from pathlib import Path

from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelType

_PIPELINE_FAMILIES = [("StableDiffusionXL", "sdxl"), ("StableDiffusion3", "sd3"), ("Flux", "flux"),
                      ("StableDiffusion", "sd15"), ("PixArt", "pixart"), ("Wan", "wan"),
                      ("HunyuanVideo", "hunyuan_video"), ("LTX", "ltxv"), ("Sana", "sana")]
_COMPONENTS = [("AutoencoderKL", ModelType.VAE), ("ControlNet", ModelType.CONTROLNET),
               ("UNet2DCondition", ModelType.DIFFUSION_MODEL), ("Transformer2DModel", ModelType.DIFFUSION_MODEL),
               ("Transformer3DModel", ModelType.DIFFUSION_MODEL), ("CLIPVision", ModelType.CLIP_VISION),
               ("CLIPText", ModelType.TEXT_ENCODER), ("T5Encoder", ModelType.TEXT_ENCODER),
               ("UMT5Encoder", ModelType.TEXT_ENCODER), ("ForCausalLM", ModelType.LLM),
               ("ForConditionalGeneration", ModelType.LLM)]

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


def classify_folder(folder: Path) -> Classification:
    index = _read_json(folder / "model_index.json")
    if index:
        cls = str(index.get("_class_name", ""))
        family = next((f for marker, f in _PIPELINE_FAMILIES if marker in cls), UNKNOWN_FAMILY)
        return Classification(ModelType.DIFFUSERS, family, 0.95, Method.FOLDER_CONFIG,
                              f"diffusers pipeline {cls or '(unnamed)'}")
    config = _read_json(folder / "config.json")
    names = [str(config.get("_class_name", ""))] + [str(a) for a in config.get("architectures") or []]
    for marker, kind in _COMPONENTS:
        cls = next((n for n in names if marker in n), None)
        if cls:
            family = str(config.get("model_type") or UNKNOWN_FAMILY)
            return Classification(kind, family, 0.85, Method.FOLDER_CONFIG, f"config.json names {cls}")
    return Classification(ModelType.UNKNOWN, UNKNOWN_FAMILY, 0.2, Method.FOLDER_CONFIG,
                          "config.json names no known model class")
