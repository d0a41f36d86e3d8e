"""Which base model a denoiser's layout belongs to, from its module paths (see layout.py).

Each rule names tensors only one family has; the sources are diffusers' single-file detection keys
(loaders/single_file_utils.py CHECKPOINT_KEY_NAMES) and its key converters, which spell out the
original (BFL, Stability, Tencent, Wan-Video, Lightricks) names next to the diffusers ones. Shapes
only confirm or split what names leave open (SD 2 versus SD 1.5: same blocks, context 1024 vs 768).
"""

from __future__ import annotations

from .layout import Layout, StateDict

# SD 1.5 / SD 2 UNets carry attention in the first level (ldm input_blocks 1-2 and output_blocks
# 9-11, diffusers down_blocks.0 and up_blocks.3); SDXL has none there, a label_emb/add_embedding and
# 2 or 10 transformer blocks per attention where SD 1.5 has one. (Level counts do not decide: the
# SDXL refiner has four levels like SD 1.5.)
_SD15 = (r"input_blocks_[12]_1_|output_blocks_(9|10|11)_1_|down_blocks_0_attentions_|up_blocks_3_attentions_"
         r"|(down|up)_blocks_3_motion_modules_")
_SDXL = (r"label_emb_|add_embedding_|output_blocks_[012]_1_(transformer_blocks|proj_in|norm_)"
         r"|up_blocks_0_attentions_|(input|output|down|up)_blocks_\d+_(1_|attentions_\d+_)transformer_blocks_[1-9]"
         r"|(middle_block_1|mid_block_attentions_0)_transformer_blocks_[1-9]")
_CROSS_ATTN_K = r".*attn2_to_k(_weight|_lora_down_weight|_lora_A_weight)"  # in-features: the context width

_HUNYUAN = (r"(txt_in_individual_token_refiner|context_embedder_token_refiner)_"
            r"|double_blocks_\d+_(img_mlp_fc[12]|img_mod_linear|txt_mod_linear|img_attn_q_norm)_"
            r"|single_blocks_\d+_(modulation_linear|q_norm)_")
_FLUX_ORIGINAL = (r"double_blocks_\d+_(img_mlp_[02]|txt_mlp_[02]|img_mod_lin|txt_mod_lin|img_attn_norm)_"
                  r"|single_blocks_\d+_(modulation_lin|norm_query_norm)_")
_QWEN = r"transformer_blocks_\d+_(img_mod|txt_mod|img_mlp|txt_mlp)_|txt_norm_"
_SD3_DIFFUSERS = r"transformer_blocks_\d+_(norm1_context|ff_context|attn_add_[qkv]_proj|attn_to_add_out)_"
_WAN = (r"blocks_\d+_(self_attn|cross_attn)_(q|k|v|o|k_img|v_img|norm_q|norm_k)_"
        r"|blocks_\d+_(attn1|attn2)_(to_q|to_k|to_v|to_out|norm_q|norm_k|add_k_proj)_|head_modulation|condition_embedder_")


def unet_family(layout: Layout) -> str | None:
    """sd15, sd2 or sdxl for a UNet-shaped layout (ldm, diffusers or kohya names), else None."""
    sd15, sdxl = layout.has(_SD15), layout.has(_SDXL)
    if sd15 == sdxl:
        return None  # neither, or a mix no real file has
    if sdxl:
        return "sdxl"
    return "sd2" if layout.width(_CROSS_ATTN_K, 1) == 1024 else "sd15"


def dit_family(layout: Layout) -> str | None:
    """The family of a diffusion-transformer layout (full model, ControlNet or LoRA), else None."""
    if layout.has(r"(single_stream_modulation|double_stream_modulation)_"):
        return "flux2"
    if layout.has(r"distilled_guidance_layer_"):
        return "chroma"
    if layout.has(_HUNYUAN) or layout.has_dotted(r"double_blocks\.\d+\.(img|txt)_attn_(qkv|proj)\."):
        return "hunyuan_video"
    if layout.has(_FLUX_ORIGINAL) or layout.has_dotted(r"double_blocks\.\d+\.(img|txt)_attn\.(qkv|proj)\."):
        return "flux"
    double, single = layout.indices(r"transformer_blocks_(\d+)_"), layout.indices(r"single_transformer_blocks_(\d+)_")
    if single:
        # the diffusers names of both; Flux has 19 double and 38 single blocks, HunyuanVideo 20 and 40
        deep = max(double, default=0) >= 19 or max(single) >= 38
        return "hunyuan_video" if deep else "flux"
    if layout.has(_QWEN) or (double and max(double) >= 38 and layout.has(r"transformer_blocks_\d+_attn_")):
        return "qwen_image"  # 60 blocks; SD 3.5 Large, the deepest SD3, has 38
    if layout.has(r"joint_blocks_\d+_(x_block|context_block)_") or layout.has(_SD3_DIFFUSERS):
        return "sd3"
    if layout.has(r"patchify_proj_") or layout.has(r"transformer_blocks_\d+_attn1_(q_norm|k_norm|norm_q|norm_k)_"):
        return "ltx"
    if layout.has(r"adaln_single_") and layout.has(r"pos_embed_proj_"):
        return "pixart"
    if layout.has(r"transformer_blocks_\d+_attn1_") and layout.has(r"transformer_blocks_\d+_attn2_"):
        # a LoRA on LTX's self/cross attention; PixArt's has the same names but 1152-wide context
        return "pixart" if layout.width(r"transformer_blocks_\d+_attn2_to_k_.*(down|A)_weight", 1) == 1152 else "ltx"
    if layout.has(_WAN):
        return "wan"
    if layout.has(r"(double_layers|joint_transformer_blocks)_\d+_"):
        return "auraflow"
    return None


def denoiser_family(layout: Layout) -> str | None:
    return dit_family(layout) or unet_family(layout)


def is_unet(layout: Layout) -> bool:
    return (layout.has(r"input_blocks_\d+_") and layout.has(r"middle_block_")) or (
        layout.has(r"down_blocks_\d+_") and layout.has(r"time_embedding_") and layout.has(r"mid_block_"))


def llm_family(sd: StateDict) -> str | None:
    """The transformers model_type a decoder's tensor names show; None if not a known decoder."""
    has = sd.has
    if not (has("layers.0.self_attn.") and (has("embed_tokens") or has("lm_head"))):
        return None
    if has("pre_feedforward_layernorm"):
        return "gemma3" if has("self_attn.q_norm") else "gemma2"
    if has("self_attn.q_norm") and has("input_layernorm"):
        return "qwen3"
    if has("self_attn.dense") and has("mlp.fc1"):
        return "phi"  # before qwen2: phi-2 has q_proj biases too, but a dense output and fc1/fc2
    if has("self_attn.q_proj.bias") and not has("self_attn.o_proj.bias"):
        return "qwen2"
    if has("self_attn.qkv_proj") and has("mlp.gate_up_proj"):
        return "phi3"
    if has("self_attn.q_proj") and has("mlp.gate_proj") and has("input_layernorm"):
        return "llama"  # Mistral and Gemma 1 use the same names; their config.json tells them apart
    return "unknown"
