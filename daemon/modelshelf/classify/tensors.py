"""Classification from a state dict's tensor names (and a few shapes and metadata keys).

The prefixes are the ones real files of each kind carry (ldm/ComfyUI, kohya, diffusers,
transformers layouts). Rules are tried in order; the first that matches decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelType


@dataclass(frozen=True)
class StateDict:
    names: frozenset[str]
    shapes: Mapping[str, tuple[int, ...]]
    metadata: Mapping[str, str]

    def has(self, *fragments: str) -> bool:
        """True if some tensor name contains every fragment."""
        return any(all(f in n for f in fragments) for n in self.names)

    def starts(self, prefix: str) -> bool:
        return any(n.startswith(prefix) for n in self.names)

    def width(self, name: str, axis: int) -> int | None:
        shape = self.shapes.get(name)
        return shape[axis] if shape and len(shape) > axis else None


_BASE_VERSIONS = {"sd_v1": "sd15", "sd_v2": "sd2", "sdxl": "sdxl", "flux": "flux", "sd3": "sd3"}


def _family_from_metadata(sd: StateDict) -> str | None:
    for key in ("ss_base_model_version", "modelspec.architecture"):
        value = sd.metadata.get(key, "").lower().replace("stable-diffusion-xl", "sdxl")
        value = value.replace("stable-diffusion-v1", "sd_v1").replace("stable-diffusion-3", "sd3")
        for marker, family in _BASE_VERSIONS.items():
            if marker in value:
                return family
    return None


def _lora(sd: StateDict) -> str | None:
    if not (sd.has("lora_down") or sd.has("lora_up") or sd.has("lora_A") or sd.has("lora_B")
            or sd.has("hada_w1") or sd.has("lokr_w1")):
        return None
    if sd.has("double_blocks") or sd.has("single_transformer_blocks") or sd.has("single_blocks"):
        return "flux"
    if sd.starts("lora_te1_") or sd.starts("lora_te2_") or sd.starts("lora_unet_input_blocks_"):
        return "sdxl"  # kohya names SDXL UNet layers the ldm way, SD 1.5 ones the diffusers way
    if sd.has("joint_blocks"):
        return "sd3"
    if sd.starts("lora_te_") or sd.starts("lora_unet_down_blocks"):
        return "sd15"
    return UNKNOWN_FAMILY


def _checkpoint(sd: StateDict) -> str | None:
    if not (sd.starts("model.diffusion_model.") and sd.starts("first_stage_model.")):
        return None
    if sd.starts("conditioner.embedders.1"):
        return "sdxl"
    if sd.starts("cond_stage_model.model.transformer"):
        return "sd2"
    if sd.starts("cond_stage_model.transformer.text_model"):
        return "sd15"
    if sd.has("double_blocks"):
        return "flux"
    if sd.has("joint_blocks"):
        return "sd3"
    return UNKNOWN_FAMILY


def _diffusion_model(sd: StateDict) -> str | None:
    if sd.has("double_blocks.") and sd.has("single_blocks."):
        return "flux"
    if sd.has("transformer_blocks.") and sd.has("single_transformer_blocks."):
        return "flux"
    if sd.has("joint_blocks."):
        return "sd3"
    if sd.has("input_blocks.") and sd.has("middle_block."):
        return "sdxl" if sd.has("label_emb.") else "sd15"
    if sd.has("down_blocks.") and sd.has("time_embedding.") and sd.has("mid_block."):
        return "sdxl" if sd.has("add_embedding.") else "sd15"
    return None


def _controlnet(sd: StateDict) -> str | None:
    if not (sd.starts("control_model.") or sd.has("input_hint_block") or sd.has("controlnet_cond_embedding")
            or sd.has("controlnet_blocks") or sd.has("controlnet_down_blocks")):
        return None
    if sd.has("double_blocks") or sd.has("single_transformer_blocks") or sd.has("controlnet_single_blocks"):
        return "flux"
    return "sdxl" if sd.has("label_emb") or sd.has("add_embedding") else "sd15"


def _vae(sd: StateDict) -> str | None:
    ldm = sd.has("encoder.down.") and sd.has("decoder.up.")
    diffusers = sd.has("encoder.down_blocks.") and sd.has("decoder.up_blocks.")
    if not (ldm or diffusers) or sd.has("diffusion_model") or sd.has("time_embed"):
        return None
    latent = next((sd.width(n, 1) for n in sd.names if n.endswith("decoder.conv_in.weight")), None)
    return {16: "flux", 4: "sd"}.get(latent or 0, UNKNOWN_FAMILY)


def _clip_vision(sd: StateDict) -> str | None:
    if sd.has("vision_model.encoder.layers.") and not sd.has("text_model."):
        return "clip_vision"
    return None


def _text_encoder(sd: StateDict) -> str | None:
    if sd.has("encoder.block.0.layer.0.SelfAttention"):
        return "umt5" if sd.has("relative_attention_bias", "block.1.") else "t5xxl"
    if sd.has("text_model.encoder.layers.") or sd.has("transformer.resblocks."):
        width = next((sd.width(n, 1) for n in sorted(sd.names)
                      if n.endswith(("position_embedding.weight", "token_embedding.weight"))), None)
        return {768: "clip_l", 1024: "clip_h", 1280: "clip_g"}.get(width or 0, "clip")
    return None


def _embedding(sd: StateDict) -> str | None:
    if "emb_params" in sd.names or sd.has("string_to_param"):
        return "sd15"
    if {"clip_l", "clip_g"} <= sd.names:
        return "sdxl"
    return None


def _upscaler(sd: StateDict) -> str | None:
    if sd.has("RRDB_trunk") or sd.has("body.0.rdb1") or sd.has("sub.0.RDB1") or sd.has(".rdb1.conv1"):
        return "esrgan"
    if sd.has("layers.0.residual_group") and sd.has("conv_first"):
        return "swinir"
    return None


def _llm(sd: StateDict) -> str | None:
    if sd.has("layers.0.self_attn.q_proj") and (sd.has("embed_tokens") or sd.has("lm_head")):
        return "transformers"
    return None


_RULES: list[tuple[Callable[[StateDict], str | None], ModelType, float, str]] = [
    (_lora, ModelType.LORA, 0.95, "LoRA down/up tensors"),
    (_checkpoint, ModelType.CHECKPOINT, 0.95, "UNet, VAE and text encoder in one file"),
    (_controlnet, ModelType.CONTROLNET, 0.9, "ControlNet hint/zero-conv tensors"),
    (_diffusion_model, ModelType.DIFFUSION_MODEL, 0.9, "diffusion model blocks without VAE"),
    (_vae, ModelType.VAE, 0.9, "VAE encoder and decoder tensors"),
    (_clip_vision, ModelType.CLIP_VISION, 0.85, "CLIP vision tower tensors"),
    (_text_encoder, ModelType.TEXT_ENCODER, 0.85, "text encoder layers"),
    (_embedding, ModelType.EMBEDDING, 0.9, "textual inversion vectors"),
    (_upscaler, ModelType.UPSCALER, 0.85, "super-resolution network tensors"),
    (_llm, ModelType.LLM, 0.8, "transformer decoder with token embeddings"),
]


def classify_state_dict(sd: StateDict) -> Classification | None:
    """The type and family a state dict's tensor names show, or None if no rule matches."""
    for rule, kind, confidence, reason in _RULES:
        family = rule(sd)
        if family is None:
            continue
        method = Method.TENSOR_NAMES
        meta_family = _family_from_metadata(sd)
        if meta_family and (family in (UNKNOWN_FAMILY, "sd") or kind is ModelType.LORA):
            family, method = meta_family, Method.FILE_METADATA
        return Classification(kind, family, confidence, method, reason)
    return None
