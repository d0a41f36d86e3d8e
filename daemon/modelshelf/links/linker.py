"""Make library models appear in every configured app, through each app kind's adapter.

The Linker finds the installs (apps.<kind>.find_installs), plans where a model goes in each
(adapter.plan: immutable, shown by --dry-run), applies the plan (adapter.apply: verified, a
user's file never replaced) and records every entry in registry.db. An incremental sync touches
one model in every install, so its cost does not grow with the library.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..apps import (
    Adapter,
    AdapterEnv,
    Adapters,
    AppInstall,
    ApplyStatus,
    LibraryModel,
    LinkKind,
    ModelFile,
    Placement,
    PlacementMethod,
)
from ..apps.filelinks import FileLinker, LinkError, is_link_to, make_link
from ..apps.pending import PendingRegistrations, RetryReport
from ..config import AppConfig
from ..errors import ModelshelfError
from ..fs.mounts import mount_of
from ..fs.paths import is_within
from ..index import IndexedModel, ModelIndex
from ..library import Library
from ..library.metadata import read_metadata
from .registry import LinkRegistry

log = logging.getLogger(__name__)

LinkStatus = ApplyStatus
__all__ = ["LinkError", "LinkResult", "LinkStatus", "Linker", "is_link_to", "make_link"]


@dataclass(frozen=True)
class LinkResult:
    install: str
    target: str
    status: LinkStatus
    kind: LinkKind | None = None
    detail: str = ""


class Linker:
    def __init__(self, library: Library, index: ModelIndex, registry: LinkRegistry,
                 apps: tuple[AppConfig, ...]) -> None:
        self.library, self.index, self.registry, self.apps = library, index, registry, apps
        self.files = FileLinker(library.root)
        self.env = AdapterEnv(library.root, self.files)
        self.adapter = Adapters(self.env)
        self.pending = PendingRegistrations(registry)   # API registrations waiting for their app

    @property
    def ops(self) -> int:
        """Filesystem operations, for the benchmark."""
        return self.files.ops

    @ops.setter
    def ops(self, value: int) -> None:
        self.files.ops = value

    # -- installs -------------------------------------------------------------------------------
    def installs(self, register: bool = True) -> list[AppInstall]:
        """Every configured install that exists now (a root that does not is offline, not empty),
        recorded in the registry with the mount it lives on unless register is False."""
        installs = [i for app in self.apps for i in self.adapter(app.kind).find_installs(app)]
        if not register:
            return installs
        known = self.registry.known_installs()
        for install in installs:
            seen = known.get(str(install.root))
            if seen is None or (seen.kind, seen.url) != (install.kind, install.url):
                mount = mount_of(install.root)   # only where it lives: offline drives are told apart by it
                self.registry.add_install(install.root, mount.mount_point if mount else "", install.kind, install.url)
        return installs

    def reconfigure(self, apps: tuple[AppConfig, ...]) -> None:
        """A reload changed [[apps]]: the next installs() sees the new set (the caller full-syncs
        the installs it had not seen before, as it does for an install that appears)."""
        self.apps = apps

    def offline_roots(self) -> list[tuple[AppConfig, str]]:
        """Configured roots that name nothing now: (app, why)."""
        missing = []
        for app in self.apps:
            roots = app.roots()
            if not roots or not any(os.path.isdir(r) for r in roots):
                missing.append((app, f"{app.pattern} does not exist (unmounted drive, or not installed yet)"))
        return missing

    # -- planning -------------------------------------------------------------------------------
    def library_model(self, model: IndexedModel) -> LibraryModel:
        folder = self.library.root / model.path
        files = tuple(ModelFile(f.name, folder / f.name, f.size, f.sha256 or "")
                      for f in self.index.files(model.model_id))
        return LibraryModel(model.model_id, model.model_type, model.family, model.cleaned_name, model.format,
                            folder, model.primary_file, files, model.sha256, model.hub_repo_id,
                            self._header_name(model, folder), model.official_name, model.preview)

    def _header_name(self, model: IndexedModel, folder: Path) -> str | None:
        """The GGUF file's own name (LM Studio's fallback folder); only LLM files need it."""
        if model.format != "gguf" or model.model_type not in ("llm", "mmproj"):
            return None
        try:
            details = read_metadata(folder / "metadata.json").details
        except (ModelshelfError, OSError):        # unreadable metadata: LM Studio falls back to the cleaned name
            return None
        return details.get("general.name") or details.get("general.basename")

    def plan(self, model: IndexedModel, installs: list[AppInstall] | None = None) -> list[Placement]:
        """Where model goes in every install: shown by --dry-run, nothing written."""
        view = self.library_model(model)
        return [p for install in (installs if installs is not None else self.installs(register=False))
                for p in self.adapter(install.kind).plan(install, view)]

    def plan_all(self, model: IndexedModel | None = None) -> list[Placement]:
        """The whole plan (or one model's) for `sync --dry-run`."""
        installs = self.installs(register=False)
        return [p for m in ([model] if model else self.index.all()) for p in self.plan(m, installs)]

    # -- syncing --------------------------------------------------------------------------------
    def sync_model(self, model: IndexedModel, installs: list[AppInstall] | None = None,
                   api_later: bool = False) -> list[LinkResult]:
        """Place one model in every install (cost independent of the library's size). With
        api_later, registrations through an app's API are queued for retry_pending() instead of
        made now: the daemon syncs under the library writer, and an app's install job may take
        minutes that imports must not wait."""
        view = self.library_model(model)
        results: list[LinkResult] = []
        for install in installs if installs is not None else self.installs():
            adapter = self.adapter(install.kind)
            self.files.ops += 1
            for placement in adapter.plan(install, view):
                if api_later and placement.method is PlacementMethod.API:
                    results.append(self._queue(install, placement))
                else:
                    results.append(self._apply(adapter, install, placement))
        return results

    def _queue(self, install: AppInstall, placement: Placement) -> LinkResult:
        """A registration for the next retry_pending() round (no backoff: it is due at once)."""
        self.registry.add_pending(str(install.root), placement.model_id, "queued for the next registration round")
        return LinkResult(str(install.root), placement.registry_target, ApplyStatus.PENDING, None,
                          "registered by the daemon's next round (within 30 s)")

    def _apply(self, adapter: Adapter, install: AppInstall, placement: Placement) -> LinkResult:
        applied = adapter.apply(install, placement)
        if applied.record is not None:
            self.registry.add(applied.record)
        elif applied.status is ApplyStatus.PENDING:
            self.pending.defer(str(install.root), placement.model_id, applied.detail)
        kind = applied.record.kind if applied.record and applied.status is ApplyStatus.CREATED else None
        return LinkResult(str(install.root), placement.registry_target, applied.status, kind, applied.detail)

    def sync_all(self, installs: list[AppInstall] | None = None, api_later: bool = False) -> list[LinkResult]:
        installs = installs if installs is not None else self.installs()
        with self.registry.atomic():  # one transaction, not one per link
            return [r for model in self.index.all() for r in self.sync_model(model, installs, api_later)]

    def retry_pending(self, force: bool = False) -> RetryReport:
        """Registrations that waited for an app's server (InvokeAI down), tried again where the
        install's backoff has passed (all of them with force). The scheduler calls this."""
        installs = {str(i.root): i for i in self.installs(register=False)}

        def resolve(root: str) -> tuple[Adapter, AppInstall] | None:
            install = installs.get(root)
            return (self.adapter(install.kind), install) if install else None

        def model_for(model_id: str) -> LibraryModel | None:
            model = self.index.get(model_id)
            return self.library_model(model) if model else None

        return self.pending.retry(resolve, model_for, force)

    def adopt(self, link: Path) -> bool:
        """Register an unknown link that leads to a library file of an indexed model."""
        dest = Path(os.path.realpath(link))
        install = next((i for i in self.installs() if link.is_relative_to(i.root)), None)
        if install is None or not dest.is_relative_to(os.path.realpath(self.library.root)):
            return False
        rel = dest.relative_to(os.path.realpath(self.library.root)).as_posix()
        model = next((m for m in self.index.all() if is_within(rel, m.path)), None)
        if model is None:
            return False
        placement = Placement(install.root, model.model_id, self.library.root / rel, link, PlacementMethod.LINK)
        self.registry.add(self.files.record(install, placement))
        return True

