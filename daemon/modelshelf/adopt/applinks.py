"""THE SEAM to the app adapters (modelshelf.apps): where to adopt from in an install, which link
replaces an app's file, and the registry row that records it.

The install's adapter names the folders to scan; its FileLinker chooses the link kind for a
folder (proved once by a canary link) exactly as it does when `sync` places a model, so an
adopted file is the link `sync` would have made: it finds it PRESENT, never a clash. The rows
are ordinary LinkRecords (method LINK), so health, delete and relocate treat them like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..apps import AdapterEnv, Adapters, AppInstall, AppKind, LinkKind, LinkRecord, Placement, PlacementMethod
from ..apps.filelinks import FileLinker, require_writable
from ..apps.linkbase import LinkAdapter
from ..fs.mounts import mount_of
from ..library import Library
from ..library.root import MARKER_NAME
from ..links import LinkRegistry

# Why the apps whose entries are not plain file links are not adopted from in place.
NOT_IN_PLACE: dict[AppKind, str] = {
    AppKind.INVOKEAI: "InvokeAI keeps its own models folder and database; library models reach it through "
                      "its API (`modelshelf sync`)",
    AppKind.OLLAMA: "Ollama's blobs are already one copy per content, named by their SHA-256 and removed by "
                    "Ollama itself (`ollama rm`, pruning); library models reach it through manifests",
}


@dataclass(frozen=True)
class AppLink:
    kind: LinkKind
    path: Path        # where the link goes: for in-place adoption, the app file's own name


class AppLinks:
    """The adapters and the link maker of one adoption run. The registry is opened on first
    registration, so a dry run never creates it."""

    def __init__(self, library: Library, open_registry: Callable[[], LinkRegistry]) -> None:
        self.library, self._open_registry = library, open_registry
        self.files = FileLinker(library.root)
        self.adapter = Adapters(AdapterEnv(library.root, self.files))
        self._installs: set[str] = set()

    @functools.cached_property
    def registry(self) -> LinkRegistry:
        return self._open_registry()

    def not_adoptable(self, install: AppInstall) -> str | None:
        """Why files of this install cannot be replaced by links in place, or None if they can."""
        if isinstance(self.adapter(install.kind), LinkAdapter):
            return None
        return NOT_IN_PLACE.get(install.kind, f"{install.kind.value} installs do not hold plain file links")

    def scan_folders(self, install: AppInstall) -> tuple[Path, ...]:
        """The install's model folders, as its adapter names them."""
        return self.adapter(install.kind).scan_folders(install)

    def link_for(self, install: AppInstall, app_file: Path) -> AppLink:
        """The link kind the adapter's FileLinker uses in this app file's folder (chosen once per
        folder and proved by a canary link to a library file). Raises LinkError (an OSError)
        when no link can be made there."""
        kind = self.files.kind_for(install.link, app_file.parent, self.library.root / MARKER_NAME)
        return AppLink(kind, app_file)

    @staticmethod
    def check_writable(folder: Path) -> None:
        """For a dry run: raise LinkError if links cannot be made in folder, writing nothing."""
        require_writable(folder)

    def register(self, install: AppInstall, link: AppLink, model_id: str, library_rel: str) -> None:
        """Record the link that now stands at link.path (its kind read from disk)."""
        if str(install.root) not in self._installs:
            register_install(self.registry, install)
            self._installs.add(str(install.root))
        self.registry.add(link_record(self.files, install, link.path, model_id, library_rel))


def link_record(files: FileLinker, install: AppInstall, path: Path, model_id: str, library_rel: str) -> LinkRecord:
    """The registry row of an adopted file: the one `sync` writes for the same link."""
    placement = Placement(install.root, model_id, files.library_root / library_rel, path, PlacementMethod.LINK)
    return files.record(install, placement)


def register_install(registry: LinkRegistry, install: AppInstall) -> None:
    """Make the install known to the registry with its kind (health checks its rows by it) unless it is."""
    known = registry.known_installs().get(str(install.root))
    if known is None or known.kind is not install.kind:
        mount = mount_of(install.root)
        registry.add_install(install.root, mount.mount_point if mount else "", install.kind, install.url)
