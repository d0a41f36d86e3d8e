"""A fake Hugging Face Hub on 127.0.0.1 serving the real endpoints and JSON shapes that
huggingface_hub's list_models and model_info(files_metadata=True) use."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, tuple[int, str | None]]          # name -> (size, sha256 or None for git files)
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    tags: list[str] = field(default_factory=lambda: ["safetensors", "license:apache-2.0"])
    pipeline_tag: str | None = "text-to-image"
    card: dict = field(default_factory=lambda: {"license": "apache-2.0", "base_model": "org/base"})
    downloads: int = 10


class FakeHub:
    def __init__(self, port: int = 0) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[str] = []
        self.forced: list[tuple[int, dict[str, str]] | float] = []   # status+headers, or a delay in s
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                hub._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()

    def add(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def api_calls(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.startswith("/api/"))

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        with self._lock:
            self.requests.append(h.path)
            forced = self.forced.pop(0) if self.forced else None
        if isinstance(forced, float):
            time.sleep(forced)                               # slower than the client's timeout
        elif forced is not None:
            status, headers = forced
            return self._send(h, status, {"error": "forced"}, headers)
        query = parse_qs(url.query)
        path = unquote(url.path)
        if path == "/api/models":
            return self._send(h, 200, self._search(query.get("search", [""])[0], int(query.get("limit", ["20"])[0])))
        if path.startswith("/api/models/"):
            repo = self.repos.get(path[len("/api/models/"):].split("/revision/")[0])
            if repo is None:
                return self._send(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return self._send(h, 200, self._info(repo, blobs=query.get("blobs", ["false"])[0].lower() == "true"))
        self._send(h, 404, {"error": "not found"})

    def _search(self, text: str, limit: int) -> list[dict]:
        text = text.lower()
        hits = [r for r in self.repos.values() if text in r.repo_id.lower()]   # the Hub searches repo ids
        return [{"id": r.repo_id, "modelId": r.repo_id, "downloads": r.downloads,
                 "siblings": [{"rfilename": f} for f in r.files]} for r in hits[:limit]]

    def _info(self, repo: FakeRepo, blobs: bool) -> dict:
        siblings = []
        for name, (size, sha) in repo.files.items():
            entry: dict = {"rfilename": name}
            if blobs:
                entry["size"] = size
                entry["blobId"] = "b" * 40
                if sha:
                    entry["lfs"] = {"sha256": sha, "size": size, "pointerSize": 134}
            siblings.append(entry)
        return {"id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.sha, "tags": repo.tags,
                "pipeline_tag": repo.pipeline_tag, "cardData": repo.card, "siblings": siblings,
                "downloads": repo.downloads, "private": False}

    def _send(self, h: BaseHTTPRequestHandler, status: int, body, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
