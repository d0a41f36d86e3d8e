"""The InvokeAI model-manager endpoints modelshelf uses, with the shapes of invoke-ai/InvokeAI
(read at 8e71a8a): `invokeai/app/api/routers/model_manager.py` (router prefix /api/v2/models),
`invokeai/app/services/model_install/model_install_common.py` (ModelInstallJob, InstallStatus) and
`invokeai/backend/model_manager/configs/base.py` (Config_Base: key, hash, path, name, ...).

- POST   /api/v2/models/install?source=<path>&inplace=true   body: ModelRecordChanges ({} or {"name"})
         -> 201 ModelInstallJob {"id", "status", "config_out", "error", "error_reason", ...};
            409 "already a model corresponding to this path", 415 unrecognised format, 424
- GET    /api/v2/models/install/{id}   -> ModelInstallJob; 404 no such job
- GET    /api/v2/models/               -> {"models": [config, ...]}
- GET    /api/v2/models/i/{key}        -> config; 404
- DELETE /api/v2/models/i/{key}        -> 204; 404. It deletes the files too when they lie inside
         InvokeAI's models folder (model_install_default.py delete); outside it only unregisters.
FastAPI errors are {"detail": ...}.
"""

from __future__ import annotations

import enum
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .http_json import JsonHttp

DEFAULT_URL = "http://127.0.0.1:9090"
URL_ENV = "MODELSHELF_INVOKEAI_URL"
BASE = "/api/v2/models"


class InstallStatus(enum.StrEnum):
    WAITING = "waiting"
    DOWNLOADING = "downloading"
    DOWNLOADS_DONE = "downloads_done"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (InstallStatus.COMPLETED, InstallStatus.ERROR, InstallStatus.CANCELLED)


@dataclass(frozen=True)
class ModelRecord:
    key: str
    path: str
    name: str


@dataclass(frozen=True)
class InstallJob:
    id: int
    status: InstallStatus
    model: ModelRecord | None      # config_out, once completed
    error: str                     # error + error_reason, one line ("" when none)


class InvokeAIApi:
    """A client for one InvokeAI server; every call raises AppApiError or returns checked values."""

    def __init__(self, url: str, timeout: float) -> None:
        self.http = JsonHttp("InvokeAI", url, timeout)

    def install_in_place(self, path: str, name: str | None = None) -> InstallJob:
        query = urllib.parse.urlencode({"source": path, "inplace": "true"})
        body = self.http.request("POST", f"{BASE}/install?{query}", {"name": name} if name else {},
                                 expect=(201, 200)).body
        return self._job(body)

    def job(self, job_id: int) -> InstallJob:
        return self._job(self.http.request("GET", f"{BASE}/install/{job_id}").body)

    def models(self) -> list[ModelRecord]:
        body = self.http.request("GET", f"{BASE}/").body
        models = body.get("models") if isinstance(body, dict) else None
        if not isinstance(models, list):
            raise self.http.garbage("the model list has no models")
        return [self._record(m) for m in models]

    def model(self, key: str) -> ModelRecord | None:
        answer = self.http.request("GET", f"{BASE}/i/{urllib.parse.quote(key, safe='')}", expect=(200, 404))
        return self._record(answer.body) if answer.status == 200 else None

    def delete(self, key: str) -> bool:
        """True if InvokeAI removed the record, False if it did not know the key."""
        answer = self.http.request("DELETE", f"{BASE}/i/{urllib.parse.quote(key, safe='')}", expect=(204, 200, 404))
        return answer.status != 404

    def _job(self, raw: Any) -> InstallJob:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), int):
            raise self.http.garbage("an install job without an id")
        try:
            status = InstallStatus(raw.get("status"))
        except ValueError:
            raise self.http.garbage(f"install job status {str(raw.get('status'))[:40]!r}") from None
        out = raw.get("config_out")
        model = self._record(out) if status is InstallStatus.COMPLETED else None
        parts = [str(raw.get(k)) for k in ("error", "error_reason") if raw.get(k)]
        return InstallJob(raw["id"], status, model, " ".join(": ".join(parts).split())[:300])

    def _record(self, raw: Any) -> ModelRecord:
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw.get(k) for k in ("key", "path")):
            raise self.http.garbage("a model record without key and path")
        return ModelRecord(raw["key"], raw["path"], str(raw.get("name") or ""))
