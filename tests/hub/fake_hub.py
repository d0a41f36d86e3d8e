"""A fake Hugging Face Hub on 127.0.0.1 serving the real endpoints and JSON shapes that
huggingface_hub's list_models and model_info(files_metadata=True) use, and for a repo made with
FakeRepo.serving() the ones snapshot_download/hf_hub_download use: the recursive tree listing
(/api/models/<repo>/tree/<rev>) and /<repo>/resolve/<rev>/<file> with the Hub's headers (a git file
answers 200 with ETag = its git blob id; an LFS file redirects to a CDN URL with X-Linked-Etag =
its SHA-256 and X-Linked-Size, as huggingface_hub's get_hf_file_metadata reads them)."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlparse

from ..local_http import LocalServer, Served, send_bytes, send_json


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, tuple[int, str | None]]          # name -> (size, sha256 or None for git files)
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    tags: list[str] = field(default_factory=lambda: ["safetensors", "license:apache-2.0"])
    pipeline_tag: str | None = "text-to-image"
    card: dict = field(default_factory=lambda: {"license": "apache-2.0", "base_model": "org/base"})
    downloads: int = 10
    contents: dict[str, bytes] = field(default_factory=dict)   # served by /resolve when present

    @classmethod
    def serving(cls, repo_id: str, contents: dict[str, bytes], **kw) -> FakeRepo:
        """A repo whose files can be downloaded; weights are LFS files, as a Hub repo's default
        .gitattributes makes them."""
        files = {name: (len(data), hashlib.sha256(data).hexdigest() if _is_lfs(name) else None)
                 for name, data in contents.items()}
        return cls(repo_id, files, contents=dict(contents), **kw)


_LFS_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".gguf", ".onnx", ".msgpack", ".h5")


def _is_lfs(name: str) -> bool:
    return name.lower().endswith(_LFS_SUFFIXES)


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {size}\n".encode()


class FakeHub(Served):
    def __init__(self, port: int = 0) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.requests: list[str] = []
        self.forced: list[tuple[int, dict[str, str]] | float] = []   # status+headers, or a delay in s
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle, "fake-hub", port)
        self.port = self.server.port
        self.endpoint = self.server.url
        self.cdn = f"http://localhost:{self.port}"   # another host: a client stops at the redirect, as on the Hub

    def add(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def api_calls(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.startswith("/api/"))

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(h.path)
        with self._lock:
            self.requests.append(h.path)
            forced = self.forced.pop(0) if self.forced else None
        if isinstance(forced, float):
            time.sleep(forced)                               # slower than the client's timeout
        elif forced is not None:
            status, headers = forced
            return send_json(h, status, {"error": "forced"}, headers)
        query = parse_qs(url.query)
        path = unquote(url.path)
        if "/resolve/" in path or path.startswith("/cdn-lfs/"):
            return self._download(h, path)
        if path.startswith("/api/models/") and "/tree/" in path:
            return self._tree(h, path)
        if path == "/api/models":
            return send_json(h, 200, self._search(query.get("search", [""])[0], int(query.get("limit", ["20"])[0])))
        if path.startswith("/api/models/"):
            repo = self.repos.get(path[len("/api/models/"):].split("/revision/")[0])
            if repo is None:
                return send_json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
            return send_json(h, 200, self._info(repo, blobs=query.get("blobs", ["false"])[0].lower() == "true"))
        send_json(h, 404, {"error": "not found"})

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

    def _tree(self, h: BaseHTTPRequestHandler, path: str) -> None:
        repo_id, _, rev = path[len("/api/models/"):].partition("/tree/")
        repo = self.repos.get(repo_id)
        if repo is None:
            return send_json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if rev not in (repo.sha, "main"):
            return send_json(h, 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
        entries: list[dict] = []
        folders = sorted({name.rsplit("/", 1)[0] for name in repo.contents if "/" in name})
        entries += [{"type": "directory", "oid": "d" * 40, "size": 0, "path": f} for f in folders]
        for name, data in sorted(repo.contents.items()):
            entry: dict = {"type": "file", "size": len(data), "path": name}
            if _is_lfs(name):
                sha = hashlib.sha256(data).hexdigest()
                entry["oid"] = _git_blob_id(_lfs_pointer(sha, len(data)))
                entry["lfs"] = {"oid": sha, "size": len(data), "pointerSize": len(_lfs_pointer(sha, len(data)))}
            else:
                entry["oid"] = _git_blob_id(data)
            entries.append(entry)
        return send_json(h, 200, entries)

    def _download(self, h: BaseHTTPRequestHandler, path: str) -> None:
        if path.startswith("/cdn-lfs/"):                     # the CDN a Hub redirect points to
            sha = path[len("/cdn-lfs/"):]
            data = next((d for r in self.repos.values() for d in r.contents.values()
                         if hashlib.sha256(d).hexdigest() == sha), None)
            if data is None:
                return send_json(h, 404, {"error": "not found"})
            return send_bytes(h, 200, data, headers={"ETag": f'"{sha}"'})
        repo_id, _, rest = path.lstrip("/").partition("/resolve/")
        rev, _, name = rest.partition("/")
        repo = self.repos.get(repo_id)
        if repo is None:
            return send_json(h, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if rev not in (repo.sha, "main"):
            return send_json(h, 404, {"error": "Invalid rev id"}, {"X-Error-Code": "RevisionNotFound"})
        data = repo.contents.get(name)
        if data is None:
            return send_json(h, 404, {"error": "Entry not found"},
                              {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": repo.sha})
        headers = {"X-Repo-Commit": repo.sha}
        if not _is_lfs(name):
            return send_bytes(h, 200, data, headers={**headers, "ETag": f'"{_git_blob_id(data)}"'})
        sha = hashlib.sha256(data).hexdigest()
        headers.update({"ETag": f'"{_git_blob_id(_lfs_pointer(sha, len(data)))}"', "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)), "Location": f"{self.cdn}/cdn-lfs/{sha}"})
        return send_bytes(h, 302, b"", headers=headers)
