"""What to search the Hub for, given a local file name."""

from __future__ import annotations

import re

_SUFFIXES = [
    r"[-_.]?(?:i?q\d(?:_k)?(?:_[a-z0-9]+)*|iq\d_[a-z]+|f16|f32|bf16|fp16|fp32|fp8(?:_e4m3fn)?(?:_scaled)?|"
    r"int[48]|nf4|gptq|awq|exl2|q\d+f\d+)$",                                     # quant / precision
    r"[-_.]?\d{5}-of-\d{5}$",                                                      # shard
    r"[-_.](?:pruned|emaonly|ema|full|fp16-no-ema|safetensors|gguf)$",
    r"[-_.]?v\d+(?:\.\d+)*$",                                                      # version
]


def clean_name(file_name: str) -> str:
    """'Llama-3-8B-Instruct.Q4_K_M.gguf' -> 'Llama-3-8B-Instruct';
    'model-00001-of-00004.safetensors' -> 'model'; 'flux1-dev-fp8.safetensors' -> 'flux1-dev'."""
    name = re.sub(r"\.(safetensors|sft|gguf|ckpt|pt|pth|bin)$", "", file_name, flags=re.I)
    changed = True
    while changed and name:
        changed = False
        for pattern in _SUFFIXES:
            shorter = re.sub(pattern, "", name, flags=re.I)
            if shorter != name and shorter:
                name, changed = shorter, True
    return name.strip("-_. ")
