"""Look inside a candidate file or folder: is it a complete model, and what kind?

Only headers are read (microseconds to milliseconds), never weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotAModelError
from .folders import classify_folder
from .gguf import MAGIC as GGUF_MAGIC
from .gguf import GGUFHeader, read_gguf_header
from .hashes import HeaderHashes, header_hashes
from .kinds import UNKNOWN_FAMILY, Classification, Method, ModelFormat, ModelType
from .names import classify_name, family_from_name
from .safetensors import read_safetensors_header
from .tensors import StateDict, classify_state_dict
from .torch_pickle import read_torch_header

MODEL_SUFFIXES = {".safetensors": ModelFormat.SAFETENSORS, ".sft": ModelFormat.SAFETENSORS,
                  ".gguf": ModelFormat.GGUF, ".ckpt": ModelFormat.TORCH, ".pt": ModelFormat.TORCH,
                  ".pth": ModelFormat.TORCH, ".bin": ModelFormat.TORCH}
_KEPT_DETAILS = ("general.architecture", "general.name", "general.basename", "general.size_label",
                 "general.file_type", "general.license", "modelspec.title", "modelspec.architecture",
                 "ss_base_model_version", "ss_output_name")
_DIFFUSION_ARCHS = {"flux": "flux", "sd1": "sd15", "sdxl": "sdxl", "sd3": "sd3", "aura": "auraflow",
                    "ltxv": "ltx", "hyvid": "hunyuan_video", "wan": "wan", "hidream": "hidream",
                    "cosmos": "cosmos", "lumina2": "lumina2", "qwen_image": "qwen_image", "chroma": "chroma"}


@dataclass(frozen=True)
class Probe:
    """What the file itself says."""

    format: ModelFormat
    classification: Classification
    official_name: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    hashes: HeaderHashes = HeaderHashes()   # kohya / modelspec hashes from a safetensors header


def is_model_file(path: Path) -> bool:
    return path.suffix.lower() in MODEL_SUFFIXES


def probe_file(path: Path) -> Probe:
    """Check a model file is complete and classify it; raise NotAModelError otherwise."""
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise NotAModelError(path, f"'{suffix or path.name}' is not a model file type (modelshelf "
                             f"imports {', '.join(sorted(MODEL_SUFFIXES))} files and diffusers folders)")
    try:
        with open(path, "rb", buffering=64 * 1024) as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise NotAModelError(path, "the file is empty (0 bytes)")
            magic = f.read(4)
            f.seek(0)
            if magic == GGUF_MAGIC or MODEL_SUFFIXES[suffix] is ModelFormat.GGUF:
                return _from_gguf(read_gguf_header(path, f, size), path)
            if MODEL_SUFFIXES[suffix] is ModelFormat.SAFETENSORS:
                header = read_safetensors_header(path, f, size)
                return _from_state_dict(ModelFormat.SAFETENSORS, path, header.shapes, header.metadata)
            torch = read_torch_header(path, f, size)
            return _from_state_dict(ModelFormat.TORCH, path, dict.fromkeys(torch.keys, ()), {})
    except OSError as e:
        raise NotAModelError(path, f"cannot read it ({e.strerror})") from e


def probe_folder(folder: Path) -> Probe:
    cls = classify_folder(folder)
    fmt = ModelFormat.DIFFUSERS if (folder / "model_index.json").is_file() else ModelFormat.FOLDER
    if cls.family == UNKNOWN_FAMILY and (hint := family_from_name(folder.name)):
        cls = cls.with_family(hint, "family from the folder name")
    return Probe(fmt, cls)


def _from_state_dict(fmt: ModelFormat, path: Path, shapes: dict, metadata: dict[str, str]) -> Probe:
    sd = StateDict(frozenset(shapes), shapes, metadata)
    cls = classify_state_dict(sd) or classify_name(path.name)
    if cls.family in (UNKNOWN_FAMILY, "sd") and (hint := family_from_name(path.stem)):
        cls = cls.with_family(hint, "family from the file name")
    details = {k: v[:200] for k, v in metadata.items() if k in _KEPT_DETAILS}
    official = metadata.get("modelspec.title") or None
    return Probe(fmt, cls, official, details, header_hashes(metadata))


_PROJECTOR_FAMILIES = {"mlp": "llava", "mlp_norm": "llava"}   # LLaVA's two-layer MLP projector
_PROJECTOR_KEYS = ("clip.projector_type", "clip.vision.projector_type", "clip.audio.projector_type")


def _projector(header: GGUFHeader) -> str | None:
    """llama.cpp's mmproj files: arch clip with a projector type key or mm./resampler. tensors."""
    kind = next((str(header.fields[k]) for k in _PROJECTOR_KEYS if header.fields.get(k)), None)
    if kind:
        return _PROJECTOR_FAMILIES.get(kind.lower(), kind.lower())
    if header.fields.get("clip.has_llava_projector") or any(
            n.startswith(("mm.", "resampler.")) for n in header.tensor_names):
        return "llava"
    return None


def _from_gguf(header: GGUFHeader, path: Path) -> Probe:
    arch = header.architecture.lower()
    kind = str(header.fields.get("general.type", "")).lower()   # "model", "adapter", "mmproj" (llama.cpp)
    projector = _projector(header)
    if arch in _DIFFUSION_ARCHS:
        cls = Classification(ModelType.DIFFUSION_MODEL, _DIFFUSION_ARCHS[arch], 0.9,
                             Method.GGUF_ARCHITECTURE, f"GGUF architecture {arch}")
    elif arch in ("t5", "t5encoder"):
        cls = Classification(ModelType.TEXT_ENCODER, "t5xxl", 0.9, Method.GGUF_ARCHITECTURE,
                             f"GGUF architecture {arch}")
    elif kind == "adapter" and str(header.fields.get("adapter.type", "")).lower() == "lora":
        cls = Classification(ModelType.LORA, arch or UNKNOWN_FAMILY, 0.9, Method.GGUF_ARCHITECTURE,
                             f"GGUF LoRA adapter for {arch or 'an unnamed architecture'}")
    elif kind == "mmproj" or (arch == "clip" and projector):
        family = projector or UNKNOWN_FAMILY
        cls = Classification(ModelType.MMPROJ, family, 0.9, Method.GGUF_ARCHITECTURE,
                             f"GGUF vision projector (mmproj), projector type {family}")
    elif arch == "clip":
        vision = bool(header.fields.get("clip.has_vision_encoder"))
        cls = Classification(ModelType.CLIP_VISION if vision else ModelType.TEXT_ENCODER, "clip",
                             0.85, Method.GGUF_ARCHITECTURE, "GGUF clip model")
    elif arch:
        cls = Classification(ModelType.LLM, arch, 0.9, Method.GGUF_ARCHITECTURE,
                             f"GGUF language model architecture {arch}")
    else:
        cls = classify_name(path.name)
    details = {k: str(v)[:200] for k, v in header.fields.items() if k in _KEPT_DETAILS}
    name = header.fields.get("general.name")
    return Probe(ModelFormat.GGUF, cls, str(name) if name else None, details)
