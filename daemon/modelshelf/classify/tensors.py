"""Classification from a state dict's tensor names (and a few shapes and metadata keys).

The type rules read the names real files of each kind carry (ldm/ComfyUI, kohya, diffusers, peft,
transformers, h94 IP-Adapter, guoyww AnimateDiff, TencentARC T2I-Adapter, madebyollin TAESD,
AUTOMATIC1111 hypernetwork layouts); the family comes from families.py. Rules are tried in order;
the first that matches decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

from .families import denoiser_family, dit_family, is_unet, llm_family, unet_family
from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelType
from .layout import Layout, build_layout


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

    @cached_property
    def layout(self) -> Layout:
        return build_layout(self.names, self.shapes)


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


def _ip_adapter(sd: StateDict) -> str | None:
    # before the LoRA rule: FaceID IP-Adapters carry to_q_lora.down weights too
    layout = sd.layout
    if layout.has(r"double_blocks_\d+_processor_ip_adapter_double_stream_"):
        return "flux"  # XLabs-AI flux-ip-adapter
    layers = layout.indices(r"(?:ip_adapter_)?(\d+)_to_k_ip_")
    if not layers:
        return None
    # h94 numbers every attention processor and weights the cross-attention ones: 16 in SD 1.5's
    # UNet, 70 in SDXL's (2 + 10 transformer blocks per level)
    return {16: "sd15", 70: "sdxl"}.get(len(layers), UNKNOWN_FAMILY)


_LORA_MARKERS = ("lora_down", "lora_up", "lora_A", "lora_B", ".lora.down", ".lora.up", "lora_linear_layer",
                 "hada_w1", "lokr_w1")


def _lora(sd: StateDict) -> str | None:
    if not any(sd.has(m) for m in _LORA_MARKERS):
        return None
    family = denoiser_family(sd.layout)
    if family:
        return family
    encoders = sd.layout.text_encoders
    if "te2" in encoders:
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


def _t2i_adapter(sd: StateDict) -> str | None:
    layout = sd.layout
    diffusers = layout.has(r"adapter_body_\d+_(resnets|in_conv)_")
    original = layout.has(r"body_\d+_(block[12]|body_\d+_block1)_") and layout.has(r"(conv_in|body_0_in_conv)_weight")
    if not (diffusers or original):
        return None
    # Names are the same for SD 1.5 and SDXL adapters; the pixel-unshuffle width tells them apart
    # (3 x 8 x 8 = 192 for SD 1.5, 3 x 16 x 16 = 768 for SDXL; 64/256 for one-channel inputs), as
    # ComfyUI's load_t2i_adapter decides.
    cin = layout.width(r"(adapter_)?(conv_in|body_0_in_conv)_weight", 1)
    return {192: "sd15", 64: "sd15", 768: "sdxl", 256: "sdxl"}.get(cin or 0, UNKNOWN_FAMILY)


def _motion_module(sd: StateDict) -> str | None:
    layout = sd.layout
    if not layout.has(r"(down_blocks_\d+_|up_blocks_\d+_|mid_block_)motion_modules_\d+_"):
        return None
    # AnimateDiff follows its UNet: four levels for SD 1.5, three for SDXL
    levels = layout.indices(r"(?:down|up)_blocks_(\d+)_motion_modules_")
    return "sd15" if max(levels, default=-1) == 3 else "sdxl" if max(levels, default=-1) == 2 else UNKNOWN_FAMILY


_TAESD_ORIGINAL = re.compile(r"\d+_(weight|bias|conv_\d_(weight|bias)|skip_weight)")


def _vae_approx(sd: StateDict) -> str | None:
    layout = sd.layout
    diffusers = layout.has(r"encoder_layers_\d+_conv_4_") and layout.has(r"decoder_layers_\d+_conv_4_")
    comfy = layout.has(r"taesd_(en|de)coder_\d+_conv_4_")
    original = bool(layout.shapes) and all(_TAESD_ORIGINAL.fullmatch(p) for p in layout.shapes) \
        and layout.has(r"\d+_conv_4_weight")
    if not (diffusers or comfy or original):
        return None
    latent = layout.width(r"(decoder_layers_0|taesd_decoder_1)_weight", 1)
    if original and layout.has(r"0_weight"):   # an encoder file: its last conv writes the latents
        last = max(layout.indices(r"(\d+)_weight"))
        latent = layout.width(f"{last}_weight", 0)
    elif original:                             # a decoder file: index 0 is a Clamp, 1 reads the latents
        latent = layout.width(r"1_weight", 1)
    # TAESD and TAESDXL share a layout, as do TAEF1 and TAESD3: 4 latent channels say "sd", 16 leave
    # the file name to tell
    return "sd" if latent == 4 else UNKNOWN_FAMILY


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


def _mmproj(sd: StateDict) -> str | None:
    # a LLaVA-style projector saved on its own (transformers multi_modal_projector, LLaVA's mm_projector)
    if not (sd.has("multi_modal_projector.") or sd.has("mm_projector.")):
        return None
    if sd.has("language_model.") or sd.has("layers.0.self_attn.") and sd.has("embed_tokens"):
        return None  # a whole vision-language model, not its projector
    return "llava"


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


def _hypernetwork(sd: StateDict) -> str | None:
    # AUTOMATIC1111 saves {dim: (module state dicts), "layer_structure": ..., "activation_func": ...}
    if {"layer_structure", "activation_func"} <= sd.names and sd.has("linear."):
        return UNKNOWN_FAMILY
    return None


def _llm(sd: StateDict) -> str | None:
    return llm_family(sd.names)


_RULES: list[tuple[Callable[[StateDict], str | None], ModelType, float, str]] = [
    (_ip_adapter, ModelType.IP_ADAPTER, 0.9, "IP-Adapter to_k_ip/to_v_ip projections"),
    (_lora, ModelType.LORA, 0.95, "LoRA down/up tensors"),
    (_checkpoint, ModelType.CHECKPOINT, 0.95, "UNet, VAE and text encoder in one file"),
    (_controlnet, ModelType.CONTROLNET, 0.9, "ControlNet hint/zero-conv tensors"),
    (_t2i_adapter, ModelType.T2I_ADAPTER, 0.85, "T2I-Adapter body/conv_in tensors"),
    (_motion_module, ModelType.MOTION_MODULE, 0.9, "AnimateDiff motion_modules tensors"),
    (_vae_approx, ModelType.VAE_APPROX, 0.85, "TAESD encoder/decoder layers"),
    (_diffusion_model, ModelType.DIFFUSION_MODEL, 0.9, "diffusion model blocks without VAE"),
    (_vae, ModelType.VAE, 0.9, "VAE encoder and decoder tensors"),
    (_mmproj, ModelType.MMPROJ, 0.85, "vision-language projector without its language model"),
    (_clip_vision, ModelType.CLIP_VISION, 0.85, "CLIP vision tower tensors"),
    (_text_encoder, ModelType.TEXT_ENCODER, 0.85, "text encoder layers"),
    (_embedding, ModelType.EMBEDDING, 0.9, "textual inversion vectors"),
    (_upscaler, ModelType.UPSCALER, 0.85, "super-resolution network tensors"),
    (_hypernetwork, ModelType.HYPERNETWORK, 0.85, "hypernetwork layer_structure and linear layers"),
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
