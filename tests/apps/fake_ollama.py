"""A local stand-in for Ollama's server, written from ollama/ollama's Go source (read at fb30760,
v0.33.0-rc2) and independent of modelshelf's own Ollama code, so the tests compare two readings.

No `ollama` server binary can be installed here: Debian has no ollama package, `pip install ollama`
and npm's `ollama` are API clients only, and Ollama's own installer downloads a prebuilt binary.

- prune_at_startup(): server/routes.go Serve (l. 1949-1980: fixBlobs, then unless OLLAMA_NOPRUNE:
  manifest.Manifests(false) skips the whole prune if any manifest is corrupt, PruneLayers,
  PruneDirectory); server/images.go PruneLayers (l. 874-925: a blob younger than
  layerPruneGracePeriod = 1 h, l. 40, is skipped; a name that is not a sha256 digest is removed)
  and deleteUnusedLayers (l. 843-872: every digest in a manifest's layers and its config is kept);
  manifest/manifest.go Manifests (l. 175-220: glob manifests/*/*/*/*, valid names only);
  manifest/paths.go PruneDirectory (l. 64-95).
- FakeOllama: the endpoints modelshelf uses (routes.go: /api/version, HEAD and POST
  /api/blobs/:digest, /api/create with files, /api/tags, DELETE /api/delete), reading and writing
  the same models folder as the real server would.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from ..local_http import LocalServer, Served, read_body, send_bytes, send_json

DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")                 # manifest/paths.go BlobsPath
PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")             # name.go isValidPart (model, tag)
NAMESPACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")
GRACE_SECONDS = 3600                                                 # images.go layerPruneGracePeriod


def blob_file(models: Path, digest: str) -> Path:
    return models / "blobs" / digest.replace(":", "-")


def manifest_files(models: Path) -> list[tuple[str, Path]]:
    """manifest.Manifests: glob manifests/*/*/*/*, skip folders and invalid names; (name, path)."""
    found = []
    for path in sorted((models / "manifests").glob("*/*/*/*")):
        if stat.S_ISDIR(os.stat(path).st_mode):   # os.Stat follows links, as Go's does
            continue
        host, ns, model, tag = path.relative_to(models / "manifests").parts
        if HOST.match(host) and NAMESPACE.match(ns) and PART.match(model) and PART.match(tag):
            default = (host, ns) == ("registry.ollama.ai", "library")     # name.go DisplayShortest
            short = f"{model}:{tag}" if default else f"{host}/{ns}/{model}:{tag}"
            found.append((short, path))
    return found


def parse_manifest(path: Path) -> dict:
    data = json.loads(path.read_bytes())
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise ValueError(f"{path}: not a manifest")
    return data


def manifest_digests(data: dict) -> set[str]:
    return {layer["digest"] for layer in [*data["layers"], data.get("config") or {}] if layer.get("digest")}


def prune_at_startup(models: Path, now: float | None = None, noprune: bool = False) -> set[str]:
    """What Ollama's server deletes from blobs/ when it starts; returns the removed blob names."""
    blobs = models / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for entry in list(blobs.iterdir()):                          # fixblobs.go
        if entry.name.startswith("sha256:"):
            entry.rename(blobs / entry.name.replace(":", "-", 1))
    if noprune:
        return set()
    manifests = manifest_files(models)
    try:
        parsed = [parse_manifest(path) for _, path in manifests]     # Manifests(false): any error aborts
    except (OSError, ValueError):
        return set()
    now = time.time() if now is None else now
    delete: set[str] = set()
    removed: set[str] = set()
    with os.scandir(blobs) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                continue
            if now - entry.stat(follow_symlinks=False).st_mtime < GRACE_SECONDS:   # DirEntry.Info is an lstat
                continue
            name = entry.name.replace("-", ":")
            if not DIGEST.match(name):
                os.remove(entry.path)
                removed.add(entry.name)
                continue
            delete.add(name)
    for data in parsed:                                          # deleteUnusedLayers
        delete -= manifest_digests(data)
    for digest in delete:
        try:
            os.remove(blob_file(models, digest))
            removed.add(digest.replace(":", "-"))
        except OSError:
            pass
    _prune_directory(models / "manifests")
    return removed


def _prune_directory(path: Path) -> None:
    """manifest/paths.go PruneDirectory: remove empty folders recursively (links are not followed)."""
    if not path.is_dir() or path.is_symlink():
        return
    for child in list(path.iterdir()):
        _prune_directory(child)
    if not any(path.iterdir()):
        path.rmdir()


@dataclass
class FakeOllama(Served):
    """Serves one models folder on 127.0.0.1. version decides what /api/create does with a GGUF:
    before 0.30 it reuses the blob (NewLayerFromLayer), from 0.30 it writes a rewritten copy
    (llama-quantize COPY). garbage=True answers every request with an HTML page."""

    models: Path
    version: str = "0.33.0"
    garbage: bool = False
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle, "fake-ollama")
        self.url = self.server.url


    def calls(self, method: str, prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    # -- HTTP ------------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        with self._lock:
            self.requests.append((method, h.path))
        body = read_body(h)
        if self.garbage:
            return send_bytes(h, 200, b"<html>Bad gateway</html>", "text/html")
        routes = {("GET", "/api/version"): lambda: (200, {"version": self.version}),
                  ("GET", "/api/tags"): self._tags,
                  ("POST", "/api/create"): lambda: self._create(json.loads(body or b"{}")),
                  ("DELETE", "/api/delete"): lambda: self._delete(json.loads(body or b"{}"))}
        if (method, h.path) in routes:
            status, answer = routes[(method, h.path)]()
        elif h.path.startswith("/api/blobs/") and method in ("HEAD", "POST"):
            status, answer = self._blob(method, h.path.removeprefix("/api/blobs/"), body)
        else:
            status, answer = 404, {"error": "404 page not found"}
        send_json(h, status, answer, content_type="application/json; charset=utf-8")

    # -- handlers, as routes.go / create.go / images.go do them ----------------------------------
    def _blob(self, method: str, digest: str, body: bytes) -> tuple[int, dict | None]:
        if not DIGEST.match(digest):
            return 400, {"error": "invalid digest format"}
        path = blob_file(self.models, digest)
        if path.exists():                  # os.Stat: a symlink to an existing file counts
            return 200, None
        if method == "HEAD":
            return 404, {"error": f'blob "{digest}" not found'}
        got = "sha256:" + hashlib.sha256(body).hexdigest()
        if got != digest:
            return 400, {"error": f'digest mismatch, expected "{digest}", got "{got}"'}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return 201, None

    def _create(self, req: dict) -> tuple[int, dict]:
        name = req.get("model") or req.get("name") or ""
        model, _, tag = name.partition(":")
        if not PART.match(model) or not PART.match(tag or "latest"):
            return 400, {"error": "invalid model name"}
        layers = []
        for source, digest in sorted((req.get("files") or {}).items()):
            path = blob_file(self.models, digest)
            if not path.exists():
                return 500, {"error": f"stat {path}: no such file or directory"}
            if path.read_bytes()[:4] != b"GGUF":
                return 400, {"error": "supplied file was not in GGUF format"}
            media = ("application/vnd.ollama.image.projector" if "mmproj" in source
                     else "application/vnd.ollama.image.model")
            if self._version() >= (0, 30, 0) and media.endswith(".model"):
                digest = self._write_blob(path.read_bytes() + b"\0" * 32)   # llama-quantize COPY: a new file
            layers.append({"mediaType": media, "digest": digest, "size": blob_file(self.models, digest).stat().st_size,
                           "from": source})
        if not layers:
            return 400, {"error": "neither 'from' or 'files' was specified"}
        config = json.dumps({"model_format": "gguf", "model_family": "llama", "model_families": ["llama"],
                             "model_type": "", "file_type": "Q4_K_M", "architecture": "amd64", "os": "linux"})
        config_digest = self._write_blob(config.encode() + b"\n")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "digest": config_digest, "size": len(config) + 1}, "layers": layers}
        target = self.models / "manifests" / "registry.ollama.ai" / "library" / model / (tag or "latest")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(manifest, separators=(",", ":")) + "\n")
        return 200, {"status": "success"}

    def _write_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = blob_file(self.models, digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return digest

    def _version(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.version.split("-")[0].split("."))

    def _tags(self) -> tuple[int, dict]:
        models = []
        for short, path in manifest_files(self.models):
            try:
                data = parse_manifest(path)
                config = json.loads(blob_file(self.models, data["config"]["digest"]).read_bytes())
            except (OSError, ValueError, KeyError):
                continue                   # model_list_cache.go: a summary that fails to build is skipped
            models.append({"name": short, "model": short, "digest": hashlib.sha256(path.read_bytes()).hexdigest(),
                           "size": sum(layer["size"] for layer in [*data["layers"], data["config"]]),
                           "details": {"format": config.get("model_format"), "family": config.get("model_family"),
                                       "quantization_level": config.get("file_type")}})
        return 200, {"models": models}

    def _delete(self, req: dict) -> tuple[int, dict | None]:
        name = req.get("model") or req.get("name") or ""
        model, _, tag = name.partition(":")
        path = self.models / "manifests" / "registry.ollama.ai" / "library" / model / (tag or "latest")
        if not PART.match(model) or not path.is_file():
            return 404, {"error": f"model '{name}' not found"}
        data = parse_manifest(path)
        path.unlink()                                        # Manifest.Remove + PruneDirectory
        _prune_directory(self.models / "manifests")
        still: set[str] = set()                              # Manifest.RemoveLayers
        for _, other in manifest_files(self.models):
            still |= manifest_digests(parse_manifest(other))
        for digest in manifest_digests(data) - still:
            blob = blob_file(self.models, digest)
            if os.path.lexists(blob):
                os.remove(blob)
        return 200, None
