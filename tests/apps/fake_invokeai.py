"""A local stand-in for InvokeAI's model manager API (InvokeAI itself needs a GPU stack these
machines lack), written from invoke-ai/InvokeAI at 8e71a8a: routers/model_manager.py (paths,
status codes, {"detail": ...} errors), model_install_common.py (ModelInstallJob, InstallStatus),
model_install_default.py (an in-place install registers the path as it is; a duplicate path fails
the job with DuplicateModelException; delete removes files only inside the models folder; an
install that is not in place moves the file into <root>/models/<key>/) and configs/base.py
(the model record fields).

The install job advances one state each time it is read (waiting -> running -> completed), so a
client has to poll it, as it has to with the real installer's background thread.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from ..local_http import LocalServer, Served, read_body, send_bytes, send_json

STEPS = ("waiting", "running", "completed")


@dataclass
class FakeInvokeAI(Served):
    root: Path                                  # the InvokeAI root (invokeai.yaml, models/)
    port: int = 0
    garbage: bool = False
    fail_jobs: str = ""                         # a job error to report instead of completing
    forget_jobs: bool = False                   # answer 404 for jobs, as after a restart (jobs live in memory)
    records: dict[str, dict] = field(default_factory=dict)
    jobs: dict[int, dict] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle, "fake-invokeai", self.port)
        self.url = self.server.url


    @property
    def models_path(self) -> Path:
        return self.root / "models"

    def calls(self, method: str, prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        body = read_body(h)
        with self._lock:
            self.requests.append((method, h.path))
            if self.garbage:
                return send_bytes(h, 200, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            status, answer = self._route(method, urlparse(h.path), body)
        send_json(h, status, answer)

    def _route(self, method: str, url, body: bytes) -> tuple[int, object]:
        path = unquote(url.path)
        base = "/api/v2/models"
        if method == "POST" and path == f"{base}/install":
            query = parse_qs(url.query)
            return self._install(query.get("source", [""])[0], query.get("inplace", ["false"])[0] == "true",
                                 json.loads(body or b"{}"))
        if method == "GET" and path.startswith(f"{base}/install/"):
            job = None if self.forget_jobs else self.jobs.get(int(path.rsplit("/", 1)[1]))
            return (200, self._advance(job)) if job else (404, {"detail": "No such job"})
        if method == "GET" and path == f"{base}/":
            return 200, {"models": list(self.records.values())}
        if method == "GET" and path == f"{base}/missing":
            return 200, {"models": [r for r in self.records.values() if not (self.models_path / r["path"]).exists()]}
        if path.startswith(f"{base}/i/"):
            key = path.removeprefix(f"{base}/i/")
            if key not in self.records:
                return 404, {"detail": f"unknown model: {key}"}
            if method == "GET":
                return 200, self.records[key]
            if method == "DELETE":
                return self._delete(key)
        return 404, {"detail": "Not Found"}

    def _install(self, source: str, inplace: bool, config: dict) -> tuple[int, object]:
        job_id = len(self.jobs) + 1
        job = {"id": job_id, "status": "waiting", "error_reason": None, "error": None, "error_traceback": None,
               "config_in": config, "config_out": None, "inplace": inplace,
               "source": {"path": source, "inplace": inplace, "type": "local"}, "local_path": source,
               "bytes": 0, "total_bytes": 0, "source_metadata": None, "download_parts": []}
        self.jobs[job_id] = job
        return 201, job

    def _advance(self, job: dict) -> dict:
        if job["status"] in ("completed", "error"):
            return job
        job["status"] = STEPS[STEPS.index(job["status"]) + 1]
        if job["status"] == "completed":
            self._finish(job)
        return job

    def _finish(self, job: dict) -> None:
        path = Path(job["local_path"])
        if self.fail_jobs or not path.exists():
            job.update(status="error", error="InvalidModelConfigException",
                       error_reason=self.fail_jobs or f"{path}: no such file")
            return
        if any(r["path"] == str(path) for r in self.records.values()):     # record_store.add_model
            job.update(status="error", error="DuplicateModelException",
                       error_reason=f"A model with path {path} is already installed")
            return
        key = str(uuid.uuid4())
        if not job["inplace"]:                                             # install_path moves it in
            dest = self.models_path / key / path.name
            dest.parent.mkdir(parents=True)
            shutil.move(path, dest)
            path = dest
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
        record = {"key": key, "hash": "blake3:" + hashlib.sha256(str(path).encode()).hexdigest(),
                  "path": str(path), "file_size": size, "name": path.stem, "description": None,
                  "source": job["local_path"], "source_type": "path", "source_api_response": None,
                  "cover_image": None, "type": "main", "base": "sdxl", "format": "checkpoint"}
        self.records[key] = record
        job["config_out"] = record
        job["total_bytes"] = job["bytes"] = size

    def _delete(self, key: str) -> tuple[int, None]:
        record = self.records.pop(key)
        path = self.models_path / record["path"]
        if path.resolve().is_relative_to(self.models_path.resolve()):      # delete(): inside, files go too
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return 204, None
