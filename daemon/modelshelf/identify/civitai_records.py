"""CivitAI's model-version JSON, checked and turned into frozen records.

The shape is the one `prepareModelVersionResponse` in civitai/civitai
src/pages/api/v1/model-versions/[id].ts builds (used by GET /api/v1/model-versions/by-hash/{hash}
and, as an array that may hold nulls, by POST /api/v1/model-versions/by-hash):
  {id, modelId, name, baseModel, trainedWords, nsfwLevel, air, status, downloadUrl,
   model: {name, type, nsfw, poi, mode},
   files: [{id, sizeKB, name, type, primary, downloadUrl, metadata, hashes: {SHA256, BLAKE3, AutoV2, ...}}],
   images: [{url, nsfwLevel, width, height, hash, type, ...}]}
Anything else (a missing id, a wrong type) is a ProviderAnswerError: garbage is never recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..library.metadata import FileEntry, ModelMetadata
from .errors import ProviderAnswerError
from .families import family_of_base_model
from .provider import Method, ProviderMatch

PROVIDER = "civitai"


@dataclass(frozen=True)
class CivitaiFile:
    name: str
    size_kb: float | None
    hashes: Mapping[str, str]          # hash type (SHA256, BLAKE3, AutoV2, ...) -> upper-case hex
    primary: bool = False
    download_url: str | None = None

    def same_size(self, size: int) -> bool:
        # sizeKB is bytes / 1024 as a float; allow the KB rounding some uploads carry
        return self.size_kb is not None and abs(self.size_kb * 1024 - size) < 1024


@dataclass(frozen=True)
class CivitaiImage:
    url: str
    nsfw_level: int
    type: str                          # "image" or "video"
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class CivitaiVersion:
    version_id: int
    model_id: int
    model_name: str | None
    version_name: str | None
    type: str | None
    base_model: str | None
    trained_words: tuple[str, ...]
    air: str | None
    nsfw_level: int | None
    model_nsfw: bool | None
    download_url: str | None
    files: tuple[CivitaiFile, ...]
    images: tuple[CivitaiImage, ...]


def _shape(ok: bool, what: str) -> None:
    if not ok:
        raise ProviderAnswerError(PROVIDER, f"unexpected JSON: {what}")


def _opt(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(key)
    # JSON true is not a number here
    ok = isinstance(value, bool) if kind is bool else isinstance(value, kind) and not isinstance(value, bool)
    _shape(value is None or ok, f"{key} is {type(value).__name__}")
    return value


def parse_version(obj: Any) -> CivitaiVersion:
    """One model version object from CivitAI; ProviderAnswerError if it is not that."""
    _shape(isinstance(obj, dict), f"a model version is {type(obj).__name__}, not an object")
    _shape(isinstance(obj.get("id"), int) and isinstance(obj.get("modelId"), int), "id/modelId missing")
    model = obj.get("model") or {}
    _shape(isinstance(model, dict), "model is not an object")
    files, images = obj.get("files") or [], obj.get("images") or []
    _shape(isinstance(files, list) and isinstance(images, list), "files/images are not lists")
    words = obj.get("trainedWords") or []
    _shape(isinstance(words, list) and all(isinstance(w, str) for w in words), "trainedWords is not a list of text")
    return CivitaiVersion(
        version_id=obj["id"], model_id=obj["modelId"], model_name=_opt(model, "name", str),
        version_name=_opt(obj, "name", str), type=_opt(model, "type", str), base_model=_opt(obj, "baseModel", str),
        trained_words=tuple(w.strip() for w in words if w.strip()), air=_opt(obj, "air", str),
        nsfw_level=_opt(obj, "nsfwLevel", int), model_nsfw=_opt(model, "nsfw", bool),
        download_url=_opt(obj, "downloadUrl", str), files=tuple(_file(f) for f in files),
        images=tuple(_image(i) for i in images))


def _file(obj: Any) -> CivitaiFile:
    _shape(isinstance(obj, dict), "a file is not an object")
    hashes = obj.get("hashes") or {}
    _shape(isinstance(hashes, dict) and all(isinstance(v, str) for v in hashes.values()), "file hashes")
    size = _opt(obj, "sizeKB", (int, float))
    return CivitaiFile(str(obj.get("name") or ""), None if size is None else float(size),
                       {str(k): v.upper() for k, v in hashes.items()}, obj.get("primary") is True,
                       _opt(obj, "downloadUrl", str))


def _image(obj: Any) -> CivitaiImage:
    _shape(isinstance(obj, dict) and isinstance(obj.get("url"), str), "an image has no url")
    return CivitaiImage(obj["url"], _opt(obj, "nsfwLevel", int) or 0, str(obj.get("type") or "image"),
                        _opt(obj, "width", int), _opt(obj, "height", int))


def parse_batch(body: Any) -> list[CivitaiVersion]:
    """POST /by-hash answers an array of versions, with null where a version has no primary file."""
    _shape(isinstance(body, list), f"the batch answer is {type(body).__name__}, not an array")
    return [parse_version(v) for v in body if v is not None]


# -- choosing and recording ------------------------------------------------------------------------
def files_with(version: CivitaiVersion, hash_type: str, digest: str) -> list[CivitaiFile]:
    return [f for f in version.files if f.hashes.get(hash_type) == digest.upper()]


def pick(versions: list[CivitaiVersion], sha256: str, size: int) -> tuple[CivitaiVersion, CivitaiFile] | None:
    """The one version whose file has this SHA-256 AND this size; None when none or several do
    (the same bytes under two versions: CivitAI cannot tell which one this copy is)."""
    hits = {(v.version_id): (v, f) for v in versions for f in files_with(v, "SHA256", sha256) if f.same_size(size)}
    return next(iter(hits.values())) if len(hits) == 1 else None


def to_match(version: CivitaiVersion, file: CivitaiFile, method: Method = Method.SHA256) -> ProviderMatch:
    """A proven match with every field the issue asks CivitAI for (the record keeps them all)."""
    record = {"model_id": version.model_id, "version_id": version.version_id, "model_name": version.model_name,
              "version_name": version.version_name, "type": version.type, "base_model": version.base_model,
              "trained_words": list(version.trained_words), "air": version.air, "nsfw_level": version.nsfw_level,
              "model_nsfw": version.model_nsfw, "file_name": file.name, "file_hashes": dict(file.hashes),
              "download_url": file.download_url or version.download_url,
              "images": [dataclasses.asdict(i) for i in version.images]}
    return ProviderMatch(
        PROVIDER, method, 1.0, f"civitai:{version.model_id}@{version.version_id}", version.model_name,
        version.base_model, family_of_base_model(version.base_model), version.trained_words,
        record["download_url"], record, f"{method.upper()} and size of {file.name} match")


def version_to_cache(version: CivitaiVersion) -> dict[str, Any]:
    return dataclasses.asdict(version)


def version_from_cache(data: Mapping[str, Any]) -> CivitaiVersion:
    values = dict(data)
    values["files"] = tuple(CivitaiFile(**f) for f in values["files"])
    values["images"] = tuple(CivitaiImage(**i) for i in values["images"])
    values["trained_words"] = tuple(values["trained_words"])
    return CivitaiVersion(**values)


def target_file(meta: ModelMetadata) -> FileEntry | None:
    """The file CivitAI would list for this model: the only file, else the primary one; folder
    models (diffusers) have none (CivitAI lists single files)."""
    if len(meta.files) == 1:
        return meta.files[0]
    return next((f for f in meta.files if f.name == meta.primary_file), None)
