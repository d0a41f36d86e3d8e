"""A fake CivitAI on 127.0.0.1 serving the real public REST endpoints and JSON shapes.

Read from civitai/civitai (snapshot of 2026-08):
- GET  /api/v1/model-versions/by-hash/{hash}   src/pages/api/v1/model-versions/by-hash/[hash].ts
  any hash type, upper-cased; the oldest Published version with a file carrying it; else
  404 {"error": "Model not found"}.
- POST /api/v1/model-versions/by-hash          src/pages/api/v1/model-versions/by-hash/index.ts
  body: a JSON array of at most 100 strings of length 64 (zod), else 400 {"error": "Request must
  include an array of SHA256 Hashes. ..."}; answer: an array with one version per matching file.
- GET  /api/v1/models/{id}                      src/pages/api/v1/models/[id].ts
  {id, name, type, nsfw, nsfwLevel, tags: [..], modelVersions: [...]}, else 404 {"error": "No model with id N"}.
The version object is prepareModelVersionResponse in src/pages/api/v1/model-versions/[id].ts:
id, modelId, name, baseModel, baseModelType, trainedWords, nsfwLevel, air, status, stats,
model {name, type, nsfw, poi, mode}, files [{id, sizeKB, name, type, metadata, hashes {AutoV1, AutoV2,
SHA256, CRC32, BLAKE3, AutoV3}, primary, downloadUrl}], images [{url, nsfwLevel, width, height, hash,
type, ...}], downloadUrl. Image files are served under /images/.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlparse

from ..local_http import LocalServer, Served, read_body, send_bytes, send_json


@dataclass
class FakeFile:
    name: str
    size: int
    sha256: str
    blake3: str = "0" * 64
    primary: bool = True

    def hashes(self) -> dict[str, str]:
        sha = self.sha256.upper()
        return {"AutoV1": sha[:8], "AutoV2": sha[:10], "SHA256": sha, "CRC32": sha[-8:],
                "BLAKE3": self.blake3.upper(), "AutoV3": sha[:12]}


@dataclass
class FakeVersion:
    version_id: int
    model_id: int
    model_name: str
    version_name: str
    files: list[FakeFile]
    model_type: str = "LORA"
    base_model: str = "SDXL 1.0"
    trained_words: list[str] = field(default_factory=lambda: ["detailed", "sharp focus"])
    nsfw_level: int = 1
    images: list[dict] = field(default_factory=list)    # {"name", "nsfwLevel", "type"}
    tags: list[str] = field(default_factory=lambda: ["style", "detail"])
    published: bool = True


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: object
    headers: dict[str, str]
    at: float                         # time.monotonic() when the server received it


class FakeCivitai(Served):
    def __init__(self) -> None:
        self.versions: dict[int, FakeVersion] = {}
        self.images: dict[str, bytes] = {}
        self.requests: list[Request] = []
        # (status, headers, body bytes, content type) answered instead of the real thing, in order
        self.forced: list[tuple[int, dict[str, str], bytes, str]] = []
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle, "fake-civitai")
        self.endpoint = self.server.url

    def add(self, version: FakeVersion) -> FakeVersion:
        self.versions[version.version_id] = version
        return version

    def force(self, status: int, body: bytes | str = b'{"error": "forced"}', headers: dict[str, str] | None = None,
              content_type: str = "application/json", times: int = 1) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self.forced.extend([(status, headers or {}, data, content_type)] * times)

    def api_calls(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/api/")]

    # -- answers ----------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = unquote(urlparse(h.path).path)
        raw = read_body(h)
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw
        with self._lock:
            self.requests.append(Request(method, path, body, dict(h.headers.items()), time.monotonic()))
            forced = self.forced.pop(0) if self.forced and path.startswith("/api/") else None
        if forced is not None:
            status, headers, data, content_type = forced
            return send_bytes(h, status, data, content_type, headers)
        by_hash = "/api/v1/model-versions/by-hash"
        if method == "GET" and path.startswith(by_hash + "/"):
            return self._one_by_hash(h, path[len(by_hash) + 1:])
        if method == "POST" and path == by_hash:
            return self._batch(h, body)
        if method == "GET" and path.startswith("/api/v1/models/"):
            return self._model(h, path.rsplit("/", 1)[-1])
        if method == "GET" and path.startswith("/images/") and path[8:] in self.images:
            return send_bytes(h, 200, self.images[path[8:]], "image/jpeg")
        send_json(h, 404, {"error": "Not found"})

    def _published(self) -> list[FakeVersion]:
        return sorted((v for v in self.versions.values() if v.published), key=lambda v: v.version_id)

    def _one_by_hash(self, h: BaseHTTPRequestHandler, digest: str) -> None:
        digest = digest.upper()
        for version in self._published():
            if any(digest in f.hashes().values() for f in version.files):
                return send_json(h, 200, self._version(version))
        send_json(h, 404, {"error": "Model not found"})

    def _batch(self, h: BaseHTTPRequestHandler, body: object) -> None:
        if not (isinstance(body, list) and len(body) <= 100
                and all(isinstance(x, str) and len(x) == 64 for x in body)):
            return send_json(h, 400, {"error": "Request must include an array of SHA256 Hashes. Too many hashes"})
        wanted = {x.upper() for x in body}
        # prepareModelVersionResponse answers null for a version without a primary file
        out = [self._version(v) if any(f.primary for f in v.files) else None
               for v in self._published() for f in v.files if f.hashes()["SHA256"] in wanted]
        send_json(h, 200, out)

    def _model(self, h: BaseHTTPRequestHandler, model_id: str) -> None:
        versions = [v for v in self._published() if str(v.model_id) == model_id]
        if not versions:
            return send_json(h, 404, {"error": f"No model with id {model_id}"})
        first = versions[0]
        send_json(h, 200, {"id": first.model_id, "name": first.model_name, "description": "<p>a model</p>",
                            "type": first.model_type, "poi": False, "nsfw": first.nsfw_level > 2,
                            "nsfwLevel": first.nsfw_level, "tags": first.tags,
                            "creator": {"username": "someone", "image": None},
                            "modelVersions": [self._version(v) for v in versions]})

    def _version(self, v: FakeVersion) -> dict:
        air_type = {"LORA": "lora", "Checkpoint": "checkpoint"}.get(v.model_type, v.model_type.lower())
        return {
            "id": v.version_id, "modelId": v.model_id, "name": v.version_name, "description": None,
            "createdAt": "2025-12-18T08:55:00.000Z", "updatedAt": "2025-12-18T09:16:12.062Z",
            "publishedAt": "2025-12-18T09:16:12.062Z", "status": "Published", "availability": "Public",
            "baseModel": v.base_model, "baseModelType": "Standard", "nsfwLevel": v.nsfw_level,
            "uploadType": "Created", "usageControl": "Download", "trainedWords": v.trained_words,
            "trainingStatus": None, "trainingDetails": None, "earlyAccessEndsAt": None,
            "air": f"urn:air:sdxl:{air_type}:civitai:{v.model_id}@{v.version_id}",
            "stats": {"downloadCount": 1234, "thumbsUpCount": 56},
            "model": {"name": v.model_name, "type": v.model_type, "nsfw": v.nsfw_level > 2, "poi": False},
            "files": [{"id": v.version_id * 10 + i, "sizeKB": f.size / 1024, "name": f.name, "type": "Model",
                       "metadata": {"format": "SafeTensor", "size": "pruned", "fp": "fp16"},
                       "pickleScanResult": "Success", "pickleScanMessage": "No Pickle imports",
                       "virusScanResult": "Success", "virusScanMessage": None,
                       "scannedAt": "2025-12-18T09:00:00.000Z", "hashes": f.hashes(), "primary": f.primary,
                       "downloadUrl": f"{self.endpoint}/api/download/models/{v.version_id}"}
                      for i, f in enumerate(v.files)],
            "images": [{"url": f"{self.endpoint}/images/{img['name']}", "nsfwLevel": img.get("nsfwLevel", 1),
                        "width": 832, "height": 1216, "hash": "U5F~gc00_300", "type": img.get("type", "image"),
                        "metadata": {"hash": "U5F~gc00_300", "size": 1000}, "minor": False, "poi": False,
                        "meta": None, "availability": "Public", "hasMeta": False, "hasPositivePrompt": False,
                        "onSite": False, "remixOfId": None}
                       for img in v.images],
            "downloadUrl": f"{self.endpoint}/api/download/models/{v.version_id}",
        }
