"""Model files for tests, written with the real safetensors and gguf writers. Tensor names are
the ones real files of each kind carry; tensors are tiny unless a rule reads their shape."""

from __future__ import annotations

import json
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def _t(*shape: int) -> np.ndarray:
    return np.zeros(shape or (1,), dtype=np.float16)


SAFETENSORS_KINDS: dict[str, tuple[dict[str, tuple[int, ...]], dict[str, str], str, str]] = {
    # name: (tensor name -> shape, __metadata__, expected type, expected family)
    "checkpoint_sd15": ({"model.diffusion_model.input_blocks.0.0.weight": (1,),
                         "first_stage_model.decoder.conv_in.weight": (1,),
                         "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (1,)},
                        {}, "checkpoint", "sd15"),
    "checkpoint_sdxl": ({"model.diffusion_model.input_blocks.0.0.weight": (1,),
                         "model.diffusion_model.label_emb.0.0.weight": (1,),
                         "first_stage_model.encoder.conv_in.weight": (1,),
                         "conditioner.embedders.0.transformer.text_model.embeddings.position_ids": (1,),
                         "conditioner.embedders.1.model.token_embedding.weight": (1,)},
                        {}, "checkpoint", "sdxl"),
    "flux_dev": ({"double_blocks.0.img_attn.qkv.weight": (1,), "single_blocks.0.linear1.weight": (1,),
                  "img_in.weight": (1,), "time_in.in_layer.weight": (1,)}, {}, "diffusion_model", "flux"),
    "unet_sdxl": ({"input_blocks.0.0.weight": (1,), "middle_block.0.in_layers.0.weight": (1,),
                   "label_emb.0.0.weight": (1,)}, {}, "diffusion_model", "sdxl"),
    "lora_sdxl": ({"lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_k.lora_down.weight": (4, 1),
                   "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_k.lora_up.weight": (1, 4),
                   "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (4, 1)},
                  {}, "lora", "sdxl"),
    "lora_flux": ({"transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": (4, 1),
                   "transformer.single_transformer_blocks.0.attn.to_k.lora_B.weight": (1, 4)},
                  {}, "lora", "flux"),
    "lora_sd15_meta": ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (4, 1),
                        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": (1, 4)},
                       {"ss_base_model_version": "sd_v1"}, "lora", "sd15"),
    "vae_flux": ({"encoder.down.0.block.0.conv1.weight": (1,), "decoder.up.0.block.0.conv1.weight": (1,),
                  "decoder.conv_in.weight": (512, 16, 1, 1)}, {}, "vae", "flux"),
    "sdxl_vae": ({"encoder.down.0.block.0.conv1.weight": (1,), "decoder.up.0.block.0.conv1.weight": (1,),
                  "decoder.conv_in.weight": (512, 4, 1, 1)}, {}, "vae", "sdxl"),
    "control_canny_sd15": ({"control_model.input_hint_block.0.weight": (1,),
                            "control_model.zero_convs.0.0.weight": (1,),
                            "control_model.input_blocks.0.0.weight": (1,)}, {}, "controlnet", "sd15"),
    "controlnet_sdxl": ({"controlnet_cond_embedding.conv_in.weight": (1,),
                         "controlnet_down_blocks.0.weight": (1,), "add_embedding.linear_1.weight": (1,)},
                        {}, "controlnet", "sdxl"),
    "clip_l": ({"text_model.encoder.layers.0.self_attn.q_proj.weight": (1,),
                "text_model.embeddings.position_embedding.weight": (77, 768)},
               {}, "text_encoder", "clip_l"),
    "t5xxl_fp16": ({"encoder.block.0.layer.0.SelfAttention.q.weight": (1,),
                    "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": (1,),
                    "shared.weight": (1,)}, {}, "text_encoder", "t5xxl"),
    "clip_vision_h": ({"vision_model.encoder.layers.0.self_attn.q_proj.weight": (1,),
                       "vision_model.embeddings.patch_embedding.weight": (1,),
                       "visual_projection.weight": (1,)}, {}, "clip_vision", "clip_vision"),
    "easynegative": ({"emb_params": (2, 768)}, {}, "embedding", "sd15"),
    "xl_embedding": ({"clip_l": (2, 768), "clip_g": (2, 1280)}, {}, "embedding", "sdxl"),
    "RealESRGAN_x4plus": ({"conv_first.weight": (1,), "body.0.rdb1.conv1.weight": (1,),
                           "conv_last.weight": (1,)}, {}, "upscaler", "esrgan"),
    "tiny_llama": ({"model.embed_tokens.weight": (1,), "model.layers.0.self_attn.q_proj.weight": (1,),
                    # "llama" from the file name: these three names alone tell no family
                    "lm_head.weight": (1,)}, {}, "llm", "llama"),
}


def write_safetensors(path: Path, kind: str, salt: int = 0) -> Path:
    """A safetensors file of the given kind; salt makes the content (and hashes) differ."""
    shapes, metadata, _, _ = SAFETENSORS_KINDS[kind]
    tensors = {name: _t(*shape) for name, shape in shapes.items()}
    save_file(tensors, str(path), metadata={**metadata, "salt": str(salt)})
    return path


def write_big_safetensors(path: Path, megabytes: int, seed: int = 0) -> Path:
    """A valid safetensors file holding megabytes of random data (a realistic LoRA body)."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 255, size=megabytes << 20, dtype=np.uint8)
    save_file({"lora_unet_x.lora_down.weight": data, "lora_unet_x.lora_up.weight": _t(1)}, str(path))
    return path


def write_gguf(path: Path, arch: str, name: str | None = None, salt: int = 0) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    if name:
        writer.add_name(name)
    writer.add_uint32(f"{arch}.salt", salt)
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.ones((4, 4), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_torch_zip(path: Path, keys: list[str]) -> Path:
    """The layout torch.save writes (archive/data.pkl in a zip), with a plain state-dict pickle."""
    state = OrderedDict((k, None) for k in keys)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(state, protocol=2))
        z.writestr("archive/version", "3\n")
    return path


def write_diffusers(folder: Path, pipeline: str = "StableDiffusionXLPipeline", salt: int = 0) -> Path:
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": pipeline, "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "safety_checker": [None, None]}))
    for part, kind in (("unet", "unet_sdxl"), ("vae", "sdxl_vae"), ("text_encoder", "clip_l")):
        (folder / part).mkdir()
        (folder / part / "config.json").write_text(json.dumps({"_class_name": part}))
        write_safetensors(folder / part / "diffusion_pytorch_model.safetensors", kind, salt)
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "vocab.json").write_text('{"a": 1}')
    return folder
