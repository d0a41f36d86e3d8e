"""Classification from a state dict's tensor names (and a few shapes and metadata keys).

The type rules read the names real files of each kind carry (ldm/ComfyUI, kohya, diffusers, peft,
transformers, h94 IP-Adapter, guoyww AnimateDiff, TencentARC T2I-Adapter, madebyollin TAESD,
AUTOMATIC1111 hypernetwork layouts); the family comes from families.py. Rules are tried in order;
the first that matches decides.
"""

from __future__ import annotations

from collections.abc import Callable

from .adapters import hypernetwork, ip_adapter, mmproj, motion_module, t2i_adapter, vae_approx
from .families import denoiser_family, dit_family, is_unet, llm_family, unet_family
from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelType
from .layout import StateDict

__all__ = ["StateDict", "classify_state_dict"]


_BASE_VERSIONS = [("sd_v1", "sd15"), ("sd_v2", "sd2"), ("sdxl", "sdxl"), ("flux", "flux"), ("sd3", "sd3"),
                  ("hunyuan", "hunyuan_video"), ("wan", "wan"), ("qwen", "qwen_image"), ("ltx", "ltx")]


def _family_from_metadata(sd: StateDict) -> str | None:
    """kohya's ss_base_model_version / modelspec.architecture, when the names leave it open."""
    for key in ("ss_base_model_version", "modelspec.architecture"):
        value = sd.metadata.get(key, "").lower().replace("stable-diffusion-xl", "sdxl")
        value = value.replace("stable-diffusion-v1", "sd_v1").replace("stable-diffusion-3", "sd3")
        value = value.replace("stable-diffusion-v2", "sd_v2")
        for marker, family in _BASE_VERSIONS:
            if marker in value:
                return family
    return None


# kohya/LyCORIS, peft, diffusers (new `.lora.down` and old `to_q_lora.down`) conventions
_LORA_MARKERS = ("lora_down", "lora_up", "lora_A", "lora_B", "lora.down", "lora.up", "lora_linear_layer",
                 "hada_w1", "lokr_w1")


def _lora(sd: StateDict) -> str | None:
    if not any(sd.has(m) for m in _LORA_MARKERS):
        return None
    family = denoiser_family(sd.layout)
    if family:
        return family
    # sd-scripts names SDXL UNet modules the ldm way (sdxl_original_unet) and SD 1.x/2.x ones the
    # diffusers way, so ldm names in a kohya LoRA mean SDXL even where the blocks leave it open
    encoders = sd.layout.text_encoders
    if "te2" in encoders or sd.starts("lora_unet_input_blocks_") or sd.starts("lora_unet_output_blocks_") \
            or sd.starts("lora_unet_middle_block_"):
        return "sdxl"
    return "sd15" if encoders == {"te"} and sd.starts("lora_te_") else UNKNOWN_FAMILY


def _checkpoint(sd: StateDict) -> str | None:
    if not (sd.starts("model.diffusion_model.") and (sd.starts("first_stage_model.") or sd.starts("vae."))):
        return None
    family = denoiser_family(sd.layout)
    if family:
        return family
    # diffusers' CHECKPOINT_KEY_NAMES: the text encoders each family's checkpoints carry
    if sd.starts("conditioner.embedders.1"):
        return "sdxl"
    if sd.starts("cond_stage_model.model."):
        return "sd2"
    if sd.starts("cond_stage_model.transformer.text_model"):
        return "sd15"
    return UNKNOWN_FAMILY


_CONTROLNET_MARKERS = ("control_model.", "input_hint_block", "controlnet_cond_embedding", "controlnet_blocks",
                       "controlnet_down_blocks", "controlnet_single_blocks", "controlnet_x_embedder")


def _controlnet(sd: StateDict) -> str | None:
    if not any(sd.has(m) for m in _CONTROLNET_MARKERS):
        return None
    return denoiser_family(sd.layout) or UNKNOWN_FAMILY


def _diffusion_model(sd: StateDict) -> str | None:
    family = dit_family(sd.layout)
    if family:
        return family
    if is_unet(sd.layout):
        return unet_family(sd.layout) or UNKNOWN_FAMILY
    return None


def _vae(sd: StateDict) -> str | None:
    ldm = sd.has("encoder.down.") and sd.has("decoder.up.")
    diffusers = sd.has("encoder.down_blocks.") and sd.has("decoder.up_blocks.")
    if not (ldm or diffusers) or sd.has("diffusion_model") or sd.has("time_embed"):
        return None
    latent = next((sd.width(n, 1) for n in sd.names if n.endswith("decoder.conv_in.weight")), None)
    return {16: "flux", 4: "sd"}.get(latent or 0, UNKNOWN_FAMILY)


def _clip_vision(sd: StateDict) -> str | None:
    # a vision-language model's vision tower sits beside its language_model: that file is the LLM
    if sd.has("vision_model.encoder.layers.") and not sd.has("text_model.") and not sd.has("language_model."):
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
    return llm_family(sd)


_RULES: list[tuple[Callable[[StateDict], str | None], ModelType, float, str]] = [
    (ip_adapter, ModelType.IP_ADAPTER, 0.9, "IP-Adapter to_k_ip/to_v_ip projections"),
    (_lora, ModelType.LORA, 0.95, "LoRA down/up tensors"),
    (_checkpoint, ModelType.CHECKPOINT, 0.95, "UNet, VAE and text encoder in one file"),
    (_controlnet, ModelType.CONTROLNET, 0.9, "ControlNet hint/zero-conv tensors"),
    (t2i_adapter, ModelType.T2I_ADAPTER, 0.85, "T2I-Adapter body/conv_in tensors"),
    (motion_module, ModelType.MOTION_MODULE, 0.9, "AnimateDiff motion_modules tensors"),
    (vae_approx, ModelType.VAE_APPROX, 0.85, "TAESD encoder/decoder layers"),
    (_diffusion_model, ModelType.DIFFUSION_MODEL, 0.9, "diffusion model blocks without VAE"),
    (_vae, ModelType.VAE, 0.9, "VAE encoder and decoder tensors"),
    (mmproj, ModelType.MMPROJ, 0.85, "vision-language projector without its language model"),
    (_clip_vision, ModelType.CLIP_VISION, 0.85, "CLIP vision tower tensors"),
    (_text_encoder, ModelType.TEXT_ENCODER, 0.85, "text encoder layers"),
    (_embedding, ModelType.EMBEDDING, 0.9, "textual inversion vectors"),
    (_upscaler, ModelType.UPSCALER, 0.85, "super-resolution network tensors"),
    (hypernetwork, ModelType.HYPERNETWORK, 0.85, "hypernetwork layer_structure and linear layers"),
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
        if meta_family and family in (UNKNOWN_FAMILY, "sd"):
            family, method = meta_family, Method.FILE_METADATA
            reason = f"{reason}; family from the file's metadata"
        return Classification(kind, family, confidence, method, f"{reason} ({family})")
    return None
