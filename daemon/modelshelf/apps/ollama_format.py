"""Ollama's on-disk model format, as its own source writes and reads it (ollama/ollama, read at
fb30760, v0.33.0-rc2):

- `manifest/paths.go` BlobsPath: a blob is `<models>/blobs/sha256-<64 hex>` (the digest's ":" becomes
  "-"); a digest not matching `^sha256[:-][0-9a-fA-F]{64}$` is invalid.
- `manifest/manifest.go` WriteManifest: `<models>/manifests/<host>/<namespace>/<model>/<tag>` holds
  `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
  "config":Layer,"layers":[Layer...]}` (json.Encoder: one line plus "\\n"). Manifests() finds them
  with the glob `manifests/*/*/*/*` and skips a path whose 4 parts are not a valid name.
- `manifest/layer.go` Layer: mediaType, digest, size, optional from / name.
- `types/model/config.go` ConfigV2: the config blob (model_format, model_family, model_families,
  model_type, file_type, architecture, os); `server/create.go` createConfigLayer stores it as a blob
  of media type application/vnd.docker.container.image.v1+json.
- `types/model/name.go`: the rules for each name part (isValidPart, isValidLen).
- `server/images.go` GetModel: the layer media types it loads (model, projector, template, params...).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
PROJECTOR_MEDIA_TYPE = "application/vnd.ollama.image.projector"

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MAX_PART = 80                     # name.go isValidLen: model, namespace, tag are 1..80 bytes
MAX_MANIFEST_BYTES = 1024 * 1024  # ours are < 1 KiB; a larger file is not a manifest we could have written

_DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
# Quantisation names as llama.cpp's ftype strings and GGUF file names spell them (Q4_K_M, IQ2_XS, BF16...).
_QUANT = re.compile(r"(?<![a-z0-9])(i?q[1-8](?:_[a-z0-9]+)*|f16|f32|bf16|fp16|mxfp4)(?![a-z0-9])", re.IGNORECASE)


class ManifestError(ValueError):
    """A file under manifests/ that is not a manifest in Ollama's format."""


# -- names (types/model/name.go) ----------------------------------------------------------------

def is_valid_part(part: str, kind: str, max_len: int = MAX_PART) -> bool:
    """name.go isValidPart for kind "namespace", "model" or "tag": first byte alphanumeric or "_",
    then alphanumerics, "_", "-", and "." (not in a namespace); 1..80 bytes."""
    if not 1 <= len(part.encode()) <= max_len or not part.isascii():
        return False
    if not (part[0].isalnum() or part[0] == "_"):
        return False
    allowed = "_-" if kind == "namespace" else "_-."
    return all(c.isalnum() or c in allowed for c in part[1:])


def clean_part(text: str, fallback: str, limit: int = MAX_PART) -> str:
    """A valid model or tag part made from free text, lower case (Ollama matches names
    case-insensitively, name.go EqualFold, and its own library uses lower case)."""
    text = re.sub(r"[^a-z0-9_.-]+", "-", text.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    text = text.lstrip("_-.")[:limit].rstrip("-.")
    return text if text and is_valid_part(text, "model", limit) else fallback


@dataclass(frozen=True, order=True)
class OllamaName:
    """A fully qualified model name; str() is what `ollama list` shows and `ollama run` takes."""

    model: str
    tag: str = DEFAULT_TAG
    host: str = DEFAULT_HOST
    namespace: str = DEFAULT_NAMESPACE

    def __post_init__(self) -> None:
        if not (is_valid_part(self.model, "model") and is_valid_part(self.tag, "tag")
                and is_valid_part(self.namespace, "namespace")):
            raise ValueError(f"{self.model}:{self.tag} is not a valid Ollama model name")

    def __str__(self) -> str:
        return f"{self.model}:{self.tag}"

    @property
    def relpath(self) -> str:
        """The manifest's path under <models>/manifests (name.go Filepath)."""
        return f"{self.host}/{self.namespace}/{self.model}/{self.tag}"

    @classmethod
    def parse(cls, text: str) -> OllamaName:
        model, _, tag = text.partition(":")
        return cls(model, tag or DEFAULT_TAG)


def quant_tag(file_name: str) -> str | None:
    """The quantisation named in a GGUF file name ("Llama-3-8B.Q4_K_M.gguf" -> "q4_k_m"), if any."""
    found = _QUANT.findall(Path(file_name).stem)
    return found[-1].lower() if found else None


def derive_name(cleaned_name: str, file_name: str, sha256: str) -> tuple[OllamaName, OllamaName]:
    """The name a library GGUF gets in Ollama, and the fallback used when that name is taken by
    another model: "<cleaned name>:<quant>" and "<cleaned name>-<sha256[:8]>:<quant>"."""
    tag = quant_tag(file_name) or DEFAULT_TAG
    base = clean_part(cleaned_name, "model", 1024)
    if tag != DEFAULT_TAG:   # "llama-3-8b-q4_k_m:q4_k_m" says it twice
        base = clean_part(re.sub(rf"[-_.]*{re.escape(tag)}$", "", base), base, 1024)
    suffix = f"-{sha256[:8]}"
    model = clean_part(base, "model", MAX_PART)
    fallback = clean_part(base, "model", MAX_PART - len(suffix)) + suffix
    return OllamaName(model, tag), OllamaName(fallback, tag)


# -- blobs (manifest/paths.go) ------------------------------------------------------------------

def is_digest(digest: str) -> bool:
    return bool(_DIGEST.match(digest))


def digest_of(sha256_hex: str) -> str:
    return f"sha256:{sha256_hex.lower()}"


def blob_path(models: Path, digest: str) -> Path:
    if not is_digest(digest):
        raise ValueError(f"{digest!r} is not a sha256 digest")
    return models / "blobs" / digest.replace(":", "-")


def manifest_path(models: Path, name: OllamaName) -> Path:
    return models / "manifests" / name.relpath


def existing_manifest(models: Path, name: OllamaName) -> Path | None:
    """The manifest Ollama would open for name: it matches each part case-insensitively to the
    names it has (server/routes.go getExistingName), so "Llama:Q4" shadows "llama:q4"."""
    folder = models / "manifests"
    for part in name.relpath.split("/"):
        try:
            entries = {entry.name.lower(): entry.name for entry in os.scandir(folder)}
        except OSError:
            return None
        if part.lower() not in entries:
            return None
        folder = folder / entries[part.lower()]
    return folder


# -- manifests (manifest/manifest.go, manifest/layer.go) ---------------------------------------

@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str
    size: int
    source_name: str = ""     # Layer.From: the file a layer was made from (create.go sets it)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.source_name:
            data["from"] = self.source_name
        return data


@dataclass(frozen=True)
class Manifest:
    config: Layer
    layers: tuple[Layer, ...]

    def digests(self) -> set[str]:
        """Every blob this manifest keeps alive (images.go deleteUnusedLayers: layers and config)."""
        return {layer.digest for layer in (*self.layers, self.config) if layer.digest}

    def layer(self, media_type: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.media_type == media_type), None)

    def to_bytes(self) -> bytes:
        """As WriteManifest encodes it (Go's json.Encoder: compact, one trailing newline)."""
        data = {"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE, "config": self.config.to_json(),
                "layers": [layer.to_json() for layer in self.layers]}
        return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def parse_manifest(data: bytes) -> Manifest:
    """A manifest's bytes as Ollama decodes them; ManifestError when the shape is wrong."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{len(data)} bytes is too large for a manifest")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError) as e:
        raise ManifestError(f"not JSON ({e})") from None
    if not isinstance(raw, dict) or raw.get("schemaVersion") != 2:
        raise ManifestError("not a schemaVersion 2 manifest")
    layers = raw.get("layers")
    if not isinstance(layers, list):
        raise ManifestError("layers is not a list")
    return Manifest(_layer(raw.get("config")), tuple(_layer(item) for item in layers))


def _layer(raw: Any) -> Layer:
    if not isinstance(raw, dict):
        raise ManifestError("a layer is not an object")
    media, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media, str) or not isinstance(digest, str) or not isinstance(size, int):
        raise ManifestError("a layer lacks mediaType, digest or size")
    if digest and not is_digest(digest):
        raise ManifestError(f"layer digest {digest[:80]!r} is not sha256")
    return Layer(media, digest, size, raw.get("from") or "")


def read_manifest(path: Path) -> Manifest:
    with open(path, "rb") as f:
        return parse_manifest(f.read(MAX_MANIFEST_BYTES + 1))


def iter_manifest_paths(models: Path) -> list[Path]:
    """The files manifest.Manifests() reads: `manifests/*/*/*/*` that are not folders and whose
    four parts form a valid name (name.go ParseNameFromFilepath + IsFullyQualified)."""
    root = models / "manifests"
    found = []
    for path in sorted(root.glob("*/*/*/*")):
        host, namespace, model, tag = path.relative_to(root).parts
        if path.is_dir() or not _valid_host(host):
            continue
        if is_valid_part(namespace, "namespace") and is_valid_part(model, "model") and is_valid_part(tag, "tag"):
            found.append(path)
    return found


def _valid_host(host: str) -> bool:
    """name.go isValidPart(kindHost): like a model part, ":" also allowed, up to 350 bytes."""
    return (1 <= len(host) <= 350 and host.isascii() and (host[0].isalnum() or host[0] == "_")
            and all(c.isalnum() or c in "_-.:" for c in host[1:]))


def referenced_digests(models: Path, skip: Path | None = None) -> set[str]:
    """Every digest some manifest references (unreadable manifests are skipped, as Ollama's
    Manifests(true) does). skip: a manifest to leave out (the one being removed)."""
    digests: set[str] = set()
    for path in iter_manifest_paths(models):
        if skip is not None and path == skip:
            continue
        try:
            digests |= read_manifest(path).digests()
        except (OSError, ManifestError):
            continue
    return digests


# -- the config blob (types/model/config.go ConfigV2) --------------------------------------------

def config_blob(family: str, file_type: str, model_type: str = "") -> bytes:
    """The config layer's bytes, as createConfigLayer encodes a ConfigV2 (json.Encoder + "\\n")."""
    data = {"model_format": "gguf", "model_family": family, "model_families": [family] if family else None,
            "model_type": model_type, "file_type": file_type, "architecture": "amd64", "os": "linux"}
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def config_layer(data: bytes) -> Layer:
    return Layer(CONFIG_MEDIA_TYPE, digest_of(hashlib.sha256(data).hexdigest()), len(data))
