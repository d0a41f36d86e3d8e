"""The few Ollama HTTP endpoints modelshelf uses, with the JSON shapes of ollama/ollama
`server/routes.go` (read at fb30760) and `api/types.go`:

- GET  /api/version          -> {"version": "0.33.0"}
- HEAD /api/blobs/:digest    -> 200 if <models>/blobs/sha256-<hex> exists (os.Stat: follows symlinks), 404
- POST /api/create           {"model", "files": {name: digest}, "stream": false} -> {"status": "success"}
- GET  /api/tags             -> {"models": [{"name", "model", "digest", "size", "details": {...}}]}
- DELETE /api/delete         {"model"} -> 200; 404 when unknown

Errors come as {"error": "..."} with a 4xx/5xx status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .http_json import JsonHttp

DEFAULT_URL = "http://127.0.0.1:11434"
CREATE_TIMEOUT = 120.0   # create parses the GGUF's header and tensor table before it answers


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version | None:
        found = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
        return cls(*(int(g) for g in found.groups())) if found else None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


# From v0.30.0 (commit 9db4bdb, llama-server as the only GGUF engine) POST /api/create rewrites a
# GGUF model layer through `llama-quantize COPY` into a new blob (server/create.go createModel ->
# copyLayerWithLlamaQuantize): a full copy. Before it, create made the layer from the existing blob
# (manifest.NewLayerFromLayer, read in v0.24.0's create.go): no byte copied.
FIRST_COPYING_CREATE = Version(0, 30, 0)


def url_from_env(value: str | None) -> str:
    """OLLAMA_HOST as Ollama reads it (envconfig.Host): "host", "host:port" or a URL; port 11434."""
    if not value:
        return DEFAULT_URL
    value = value.strip()
    if "://" not in value:
        value = f"http://{value}"
    scheme, _, rest = value.partition("://")
    host = rest.split("/")[0]
    if host.startswith("0.0.0.0") or not host:
        host = "127.0.0.1" + host[len("0.0.0.0"):]
    if ":" not in host.rsplit("]", 1)[-1]:
        host = f"{host}:11434"
    return f"{scheme}://{host}"


class OllamaApi:
    """A client for one Ollama server; every call raises AppApiError or returns checked values."""

    def __init__(self, url: str, timeout: float) -> None:
        self.http = JsonHttp("Ollama", url, timeout)

    def version(self) -> Version:
        body = self.http.request("GET", "/api/version").body
        found = Version.parse(body.get("version", "")) if isinstance(body, dict) and isinstance(
            body.get("version"), str) else None
        if found is None:
            raise self.http.garbage("/api/version has no version")
        return found

    def has_blob(self, digest: str) -> bool:
        return self.http.request("HEAD", f"/api/blobs/{digest}", expect=(200, 404)).status == 200

    def create(self, name: str, files: dict[str, str]) -> None:
        """Register name from blobs already in place (only for servers older than FIRST_COPYING_CREATE)."""
        body = self.http.request("POST", "/api/create", {"model": name, "files": files, "stream": False},
                                 timeout=max(self.http.timeout, CREATE_TIMEOUT)).body
        if not isinstance(body, dict) or body.get("status") != "success":
            raise self.http.garbage(f"/api/create did not answer success for {name}")

    def names(self) -> set[str]:
        """The names `ollama list` shows."""
        body = self.http.request("GET", "/api/tags").body
        models = body.get("models") if isinstance(body, dict) else None
        if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
            raise self.http.garbage("/api/tags has no models list")
        return {str(m.get("name") or m.get("model")) for m in models}

    def delete(self, name: str) -> bool:
        """True if Ollama removed it, False if it did not know it."""
        return self.http.request("DELETE", "/api/delete", {"model": name}, expect=(200, 404)).status == 200
