"""InvokeAI: every model registered in place through InvokeAI's HTTP API; nothing in its tree.

InvokeAI keeps its own model database and has moved files it found in its models folder, so
modelshelf never links into `<root>/models`: it asks the running server to install the library
file (or diffusers folder) with `inplace=true` (invokeai_api.py), waits for the install job
(bounded), and records the key InvokeAI returns (registry `key`, method API). Deleting asks
InvokeAI to forget the key; InvokeAI deletes files only inside its own models folder
(model_install_default.py delete), which is why a library inside the InvokeAI root is refused.

Root: the InvokeAI root folder (`~/invokeai`, marker `invokeai.yaml`). URL: the app's `url`, else
$MODELSHELF_INVOKEAI_URL, else http://127.0.0.1:9090. When the server does not answer (refused,
timeout) or answers garbage, apply returns PENDING with one line naming the remedy;
pending.PendingRegistrations retries it later, imports never wait on it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..config import AppConfig, AppKind
from .base import (
    AdapterEnv,
    AppInstall,
    Applied,
    ApplyStatus,
    Finding,
    LibraryModel,
    LinkKind,
    LinkRecord,
    Placement,
    PlacementMethod,
    Problem,
    is_dir,
    markers_present,
)
from .http_json import AppApiError
from .invokeai_api import DEFAULT_URL, URL_ENV, InstallJob, InstallStatus, InvokeAIApi

log = logging.getLogger(__name__)
MARKERS = ("invokeai.yaml",)
INSTALL_WAIT_SECONDS = 120.0   # in-place install hashes the file first; past this the job is polled on retry
# The model types InvokeAI's model manager probes (backend/model_manager/configs/: main checkpoints
# and diffusers, LoRA, VAE, ControlNet, T5/CLIP encoders, CLIP vision, textual inversion, spandrel
# upscalers). GGUF language models are not among them.
TYPES = frozenset({"checkpoint", "diffusion_model", "lora", "vae", "controlnet", "text_encoder", "clip_vision",
                   "embedding", "upscaler", "diffusers"})


class InvokeAIAdapter:
    kind = AppKind.INVOKEAI

    def __init__(self, env: AdapterEnv, install_wait: float = INSTALL_WAIT_SECONDS) -> None:
        self.env, self.install_wait = env, install_wait

    def find_installs(self, app: AppConfig) -> list[AppInstall]:
        url = app.url or os.environ.get(URL_ENV) or DEFAULT_URL
        return [AppInstall(root, AppKind.INVOKEAI, app.link, tuple(app.mapping.items()), url)
                for root in app.roots() if is_dir(root) and markers_present(root, MARKERS)]

    def plan(self, install: AppInstall, model: LibraryModel) -> tuple[Placement, ...]:
        if model.model_type not in TYPES or model.format == "gguf" and model.model_type != "diffusion_model":
            return ()
        source = model.folder if model.is_folder else model.folder / model.primary_file
        return (Placement(install.root, model.model_id, source, None, PlacementMethod.API),)

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, install: AppInstall, placement: Placement) -> Applied:
        source = placement.source
        if source.resolve().is_relative_to(install.root.resolve()):
            return Applied(placement, ApplyStatus.ERROR, detail=(
                f"InvokeAI: {source} lies inside InvokeAI's root {install.root}, which InvokeAI moves and deletes "
                "files in; keep the library outside it"))
        api = InvokeAIApi(install.url, self.env.timeout_seconds)
        try:
            job = api.install_in_place(str(source))
            job = self._wait(api, job)
        except AppApiError as e:
            if e.status == 409:
                return self._adopt(api, install, placement, str(e))
            status = ApplyStatus.PENDING if e.retryable else ApplyStatus.ERROR
            return Applied(placement, status, detail=str(e))
        if job.status is InstallStatus.COMPLETED and job.model is not None:
            if not _same_path(job.model.path, source):
                return Applied(placement, ApplyStatus.ERROR, detail=(
                    f"InvokeAI registered {source.name} at {job.model.path}, not in place; remove it in InvokeAI"))
            return Applied(placement, ApplyStatus.CREATED, self._record(install, placement, job.model.key))
        if not job.status.terminal:
            return Applied(placement, ApplyStatus.PENDING, detail=(
                f"InvokeAI at {install.url}: install job {job.id} for {source.name} still {job.status.value} after "
                f"{self.install_wait:g} s; modelshelf checks it again later"))
        if "duplicate" in job.error.lower() or "already" in job.error.lower():
            return self._adopt(api, install, placement, job.error)
        return Applied(placement, ApplyStatus.ERROR, detail=(
            f"InvokeAI at {install.url} did not register {source}: {job.error or job.status.value}"))

    def _wait(self, api: InvokeAIApi, job: InstallJob) -> InstallJob:
        deadline = time.monotonic() + self.install_wait
        pause = 0.02
        while not job.status.terminal and time.monotonic() < deadline:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)
            try:
                job = api.job(job.id)
            except AppApiError as e:
                if e.status != 404:
                    raise
                return job   # InvokeAI restarted and forgot its in-memory jobs: pending, installed again later
        return job

    def _adopt(self, api: InvokeAIApi, install: AppInstall, placement: Placement, why: str) -> Applied:
        """InvokeAI already has this path (registered before a crash, or by hand): record its key."""
        try:
            found = next((m for m in api.models() if _same_path(m.path, placement.source)), None)
        except AppApiError as e:
            return Applied(placement, ApplyStatus.PENDING, detail=str(e))
        if found is None:
            return Applied(placement, ApplyStatus.ERROR, detail=f"InvokeAI at {install.url}: {why}")
        return Applied(placement, ApplyStatus.PRESENT, self._record(install, placement, found.key))

    def _record(self, install: AppInstall, placement: Placement, key: str) -> LinkRecord:
        source = placement.source.relative_to(self.env.library_root).as_posix()
        return LinkRecord(str(install.root), placement.registry_target, placement.model_id, source, LinkKind.NONE,
                          False, PlacementMethod.API, key)

    # -- undo, health --------------------------------------------------------------------------
    def undo(self, install: AppInstall, record: LinkRecord) -> None:
        """Unregister the key, only while InvokeAI's record still points at our library path.
        Raises AppApiError when InvokeAI does not answer: the registry row must stay for a retry."""
        if not record.key:
            return
        api = InvokeAIApi(install.url, self.env.timeout_seconds)
        found = api.model(record.key)
        if found is None:
            return
        if not _same_path(found.path, self.env.library_root / record.source):
            log.warning("InvokeAI key %s now names %s, not modelshelf's %s; left registered", record.key,
                        found.path, record.source)
            return
        api.delete(record.key)

    def check(self, install: AppInstall, record: LinkRecord) -> Finding | None:
        source = self.env.library_root / record.source
        where = f"{install.url} key {record.key}"
        if not source.exists():
            return Finding(Problem.BROKEN, where, f"InvokeAI registration of {source}: the file is gone",
                           "unregister it from InvokeAI", record)
        try:
            found = InvokeAIApi(install.url, self.env.timeout_seconds).model(record.key or "")
        except AppApiError as e:
            return Finding(Problem.OFFLINE_APP, where, str(e), None, record)
        if found is None:
            return Finding(Problem.BROKEN, where, f"InvokeAI no longer has {source.name} (removed in InvokeAI?)",
                           "register it again at the next sync", record)
        if not _same_path(found.path, source):
            return Finding(Problem.MISMATCHED, where, f"InvokeAI key {record.key} now names {found.path}", None, record)
        return None

    def fix(self, install: AppInstall, finding: Finding) -> bool:
        """File gone: unregister (False: forget the row). Unknown key: forget the row, so the next
        sync registers the model again and records InvokeAI's new key."""
        if finding.record is None or finding.fix is None:
            return True
        if finding.problem is Problem.BROKEN and not (self.env.library_root / finding.record.source).exists():
            try:
                self.undo(install, finding.record)
            except AppApiError as e:
                log.warning("%s (the registration of the gone file %s stays until then)", e, finding.record.source)
                return True   # keep the row: the next health --fix unregisters it
        return False

    def scan_folders(self, install: AppInstall) -> tuple[Path, ...]:
        return ()   # modelshelf never puts anything in InvokeAI's tree


def _same_path(recorded: str, source: Path) -> bool:
    """InvokeAI stores an in-place model's absolute path (configs/base.py `path`)."""
    return os.path.normpath(recorded) == os.path.normpath(source) or Path(recorded).resolve() == source.resolve()


def build(env: AdapterEnv) -> InvokeAIAdapter:
    return InvokeAIAdapter(env)
