"""THE SEAM to the app adapters: which link replaces an app's file, and its registry entry.

Today this asks links/ (ComfyUI installs, Linker's link-kind choice and canary). At the merge of
the per-app adapters (daemon/modelshelf/apps/) only this module changes: `link_for` asks the
install's adapter for the link kind and link path of one app file, `register` records it.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from ..fs.checks import fs_facts
from ..fs.mounts import mount_of
from ..library import Library
from ..library.root import MARKER_NAME
from ..links import AppInstall, Linker, LinkKind, LinkRecord, LinkRegistry
from ..links.linker import LinkError


@dataclass(frozen=True)
class AppLink:
    kind: LinkKind
    path: Path        # where the link goes: for in-place adoption, the app file's own name


class AppLinks:
    def __init__(self, linker: Linker, library: Library, registry: LinkRegistry) -> None:
        self.linker, self.library, self.registry = linker, library, registry
        self._library_dev = os.stat(library.root).st_dev
        self._installs: set[str] = set()

    def link_for(self, install: AppInstall, app_file: Path) -> AppLink:
        """The link kind for this app file's folder (chosen once per folder and proved by a
        canary link to a library file). Raises LinkError (an OSError) when no link can be made."""
        kind = self.linker.kind_for(install, app_file.parent, self.library.root / MARKER_NAME)
        return AppLink(kind, app_file)

    @staticmethod
    def check_writable(folder: Path) -> None:
        """For a dry run: raise LinkError if links cannot be made in folder, writing nothing."""
        facts = fs_facts(folder)
        if facts.read_only or not facts.writable:
            raise LinkError(errno.EROFS if facts.read_only else errno.EACCES,
                            f"{folder} is {'on a read-only mount' if facts.read_only else 'not writable'}")

    def register(self, install: AppInstall, link: AppLink, model_id: str, library_rel: str) -> None:
        root = str(install.root)
        if root not in self._installs:
            mount = mount_of(install.root)
            self.registry.add_install(install.root, mount.mount_point if mount else "")
            self._installs.add(root)
        external = os.stat(link.path.parent).st_dev != self._library_dev
        self.registry.add(LinkRecord(root, link.path.relative_to(install.root).as_posix(), model_id,
                                     library_rel, link.kind, external))
