"""Last-resort hints from a file name, with low confidence."""

from __future__ import annotations

import re

from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelType

_TYPE_HINTS: list[tuple[re.Pattern[str], ModelType]] = [
    (re.compile(r"ip[_-]?adapter"), ModelType.IP_ADAPTER),
    (re.compile(r"t2i[_-]?adapter|t2iadapter"), ModelType.T2I_ADAPTER),
    (re.compile(r"^mm_sd|^mm_sdxl|animatediff|motion[_-]?module|^v3_sd15_mm"), ModelType.MOTION_MODULE),
    (re.compile(r"hypernet"), ModelType.HYPERNETWORK),
    (re.compile(r"^tae(sd|sdxl|sd3|f1)?[_-]|taesd"), ModelType.VAE_APPROX),
    (re.compile(r"mmproj"), ModelType.MMPROJ),
    (re.compile(r"lora|locon|lycoris|loha|lokr"), ModelType.LORA),
    (re.compile(r"controlnet|control[_-]"), ModelType.CONTROLNET),
    (re.compile(r"clip[_-]?vision|image[_-]?encoder|siglip"), ModelType.CLIP_VISION),
    (re.compile(r"\bvae\b|[_-]vae|vae[_-]|\bae\b"), ModelType.VAE),
    (re.compile(r"t5xxl|umt5|clip[_-][lg]\b|text[_-]?encoder|\bt5\b"), ModelType.TEXT_ENCODER),
    (re.compile(r"esrgan|upscal|swinir|(^|[_-])[248]x([_-]|$)|x[248]\b"), ModelType.UPSCALER),
    (re.compile(r"embedding|textual[_-]?inversion|easynegative"), ModelType.EMBEDDING),
    (re.compile(r"unet|flux1?[_-]|diffusion[_-]?model"), ModelType.DIFFUSION_MODEL),
    (re.compile(r"llama|mistral|qwen|gemma|phi-?\d|instruct|\bchat\b"), ModelType.LLM),
]

_FAMILY_HINTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"sdxl|\bxl\b|[_-]xl|pony|illustrious"), "sdxl"),
    (re.compile(r"sd[_-]?v?1[._-]?5|\bsd15\b|v1[_-]5"), "sd15"),
    (re.compile(r"sd[_-]?2|v2[_-]1"), "sd2"),
    (re.compile(r"sd[_-]?3"), "sd3"),
    (re.compile(r"flux|taef1"), "flux"),
    (re.compile(r"hunyuan[_-]?video"), "hunyuan_video"),
    (re.compile(r"\bwan[_-]?2|wan2\.[12]|\bwan[_-]"), "wan"),
    (re.compile(r"qwen[_-]?image"), "qwen_image"),
    (re.compile(r"ltx[_-]?v|ltx[_-]?video"), "ltx"),
    (re.compile(r"llama"), "llama"),
    (re.compile(r"mistral"), "mistral"),
    (re.compile(r"qwen"), "qwen"),
    (re.compile(r"gemma"), "gemma"),
]


def family_from_name(name: str) -> str | None:
    lowered = name.lower()
    return next((fam for pattern, fam in _FAMILY_HINTS if pattern.search(lowered)), None)


def classify_name(name: str) -> Classification:
    lowered = name.lower()
    kind = next((t for pattern, t in _TYPE_HINTS if pattern.search(lowered)), None)
    family = family_from_name(name) or UNKNOWN_FAMILY
    if kind is None:
        return Classification(ModelType.UNKNOWN, family, 0.1, Method.NONE,
                              "nothing in the file or its name tells the type")
    return Classification(kind, family, 0.4, Method.FILENAME, f"file name {name!r} suggests {kind}")
