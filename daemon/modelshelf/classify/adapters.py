"""Add-on networks that attach to a base model, told by their tensor names: IP-Adapters (h94 and
XLabs layouts), T2I-Adapters (TencentARC and diffusers), AnimateDiff motion modules (guoyww and
diffusers), TAESD (madebyollin, diffusers AutoencoderTiny, ComfyUI vae_approx), AUTOMATIC1111
hypernetworks and LLaVA-style vision projectors. Each rule returns a family, or None if it does not apply.
"""

from __future__ import annotations

import re

from .kinds import UNKNOWN_FAMILY
from .layout import StateDict


def ip_adapter(sd: StateDict) -> str | None:
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


def t2i_adapter(sd: StateDict) -> str | None:
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


def motion_module(sd: StateDict) -> str | None:
    layout = sd.layout
    if not layout.has(r"(down_blocks_\d+_|up_blocks_\d+_|mid_block_)motion_modules_\d+_"):
        return None
    # AnimateDiff follows its UNet: four levels for SD 1.5, three for SDXL
    levels = layout.indices(r"(?:down|up)_blocks_(\d+)_motion_modules_")
    return "sd15" if max(levels, default=-1) == 3 else "sdxl" if max(levels, default=-1) == 2 else UNKNOWN_FAMILY


TAESD_ORIGINAL_NAME = re.compile(r"\d+_(weight|bias|conv_\d_(weight|bias)|skip_weight)")


def vae_approx(sd: StateDict) -> str | None:
    layout = sd.layout
    diffusers = layout.has(r"encoder_layers_\d+_conv_4_") and layout.has(r"decoder_layers_\d+_conv_4_")
    comfy = layout.has(r"taesd_(en|de)coder_\d+_conv_4_")
    original = bool(layout.shapes) and all(TAESD_ORIGINAL_NAME.fullmatch(p) for p in layout.shapes) \
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


def mmproj(sd: StateDict) -> str | None:
    # a projector saved without its language model (transformers multi_modal_projector, LLaVA's mm_projector)
    if not (sd.has("multi_modal_projector.") or sd.has("mm_projector.")):
        return None
    if sd.has("language_model.") or sd.has("layers.0.self_attn.") and sd.has("embed_tokens"):
        return None  # a whole vision-language model, not its projector
    if sd.has("multi_modal_projector.linear_1.") or sd.has("mm_projector.0."):
        return "llava"   # LLaVA's two-layer MLP (transformers LlavaMultiModalProjector)
    if sd.has("multi_modal_projector.mm_input_projection_weight"):
        return "gemma3"  # transformers Gemma3MultiModalProjector
    return UNKNOWN_FAMILY


def hypernetwork(sd: StateDict) -> str | None:
    # AUTOMATIC1111 saves {dim: (module state dicts), "layer_structure": ..., "activation_func": ...}
    if {"layer_structure", "activation_func"} <= sd.names and sd.has("linear."):
        return UNKNOWN_FAMILY
    return None
