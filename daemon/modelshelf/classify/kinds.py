"""What classification decides: a model type, a family, how sure, and why."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ModelType(enum.StrEnum):
    CHECKPOINT = "checkpoint"
    DIFFUSION_MODEL = "diffusion_model"
    LORA = "lora"
    VAE = "vae"
    CONTROLNET = "controlnet"
    TEXT_ENCODER = "text_encoder"
    CLIP_VISION = "clip_vision"
    EMBEDDING = "embedding"
    UPSCALER = "upscaler"
    LLM = "llm"
    DIFFUSERS = "diffusers"
    IP_ADAPTER = "ip_adapter"
    T2I_ADAPTER = "t2i_adapter"
    MOTION_MODULE = "motion_module"     # AnimateDiff
    HYPERNETWORK = "hypernetwork"
    VAE_APPROX = "vae_approx"           # TAESD previews
    MMPROJ = "mmproj"                   # LLM vision projectors
    UNKNOWN = "unknown"


class ModelFormat(enum.StrEnum):
    SAFETENSORS = "safetensors"
    GGUF = "gguf"
    TORCH = "torch"
    DIFFUSERS = "diffusers"
    FOLDER = "folder"


class Method(enum.StrEnum):
    TENSOR_NAMES = "tensor_names"
    FILE_METADATA = "file_metadata"
    GGUF_ARCHITECTURE = "gguf_architecture"
    FOLDER_CONFIG = "folder_config"
    FILENAME = "filename"
    NONE = "none"


@dataclass(frozen=True)
class Classification:
    model_type: ModelType
    family: str            # "sd15", "sdxl", "flux", "llama", ... or "unknown"
    confidence: float      # 0..1
    method: Method
    reason: str

    def with_family(self, family: str, reason: str) -> Classification:
        return Classification(self.model_type, family, self.confidence, self.method,
                              f"{self.reason}; {reason}")


UNKNOWN_FAMILY = "unknown"
