"""The shared body of every link-based adapter: a kind only names its marker files and its
type -> folder mapping (and may override where one model goes).

Per-file links with the original names; folder models (diffusers, HF-format LLM folders) become
real folders holding per-file links. An app's own folder is never replaced by a link and a
user's file is never moved or replaced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from .base import (
    AdapterEnv,
    AppConfig,
    AppInstall,
    AppKind,
    Applied,
    Finding,
    LibraryModel,
    LinkRecord,
    Placement,
    PlacementMethod,
    is_dir,
    markers_present,
)


class LinkAdapter:
    """An app that finds models by listing its own folders."""

    kind: ClassVar[AppKind]
    markers: ClassVar[tuple[str, ...]] = ()             # any one under the root marks an install
    mapping: ClassVar[Mapping[str, tuple[str, ...]]] = {}  # model_type -> folders (first existing wins)
    base: ClassVar[str] = ""                            # where mapping folders live, under the install root
    scan: ClassVar[tuple[str, ...]] = ("models",)       # folders health walks for unknown links
    create_missing: ClassVar[bool] = True               # make the first folder when none exists yet
    shows_previews: ClassVar[bool] = False              # lists "<stem>.preview.<ext>" beside a model

    def __init__(self, env: AdapterEnv) -> None:
        self.env = env

    # -- installs ---------------------------------------------------------------------------------
    def find_installs(self, app: AppConfig) -> list[AppInstall]:
        return [AppInstall(root, app.kind, app.link, tuple(sorted(app.mapping.items())), app.url)
                for root in app.roots() if is_dir(root) and self.recognises(root)]

    def recognises(self, root: Path) -> bool:
        """The app's own marker files are there (kinds whose root is a plain folder say True)."""
        return markers_present(root, self.markers)

    # -- planning ---------------------------------------------------------------------------------
    def folders_for(self, model: LibraryModel) -> tuple[str, ...]:
        """The app's folders for this model, relative to base (kinds refine this by architecture)."""
        return self.mapping.get(model.model_type, ())

    def folder(self, install: AppInstall, model: LibraryModel) -> Path | None:
        """The folder this model goes into (reads the install's folders, writes nothing), or None."""
        names = install.overrides().get(model.model_type) or self.folders_for(model)
        base = install.root / self.base
        for name in names:
            if is_dir(base / name):
                return base / name
        first = base / names[0] if names else None
        if first is not None and self.create_missing and is_dir(first.parent) and not os.path.lexists(first):
            return first          # the app's own folder, not made yet (it makes it at first start)
        return None               # no folder for this type, or a link/file where the folder should be

    def plan(self, install: AppInstall, model: LibraryModel) -> tuple[Placement, ...]:
        folder = self.folder(install, model)
        if folder is None:
            return ()
        return tuple(Placement(install.root, model.model_id, source, folder / name, PlacementMethod.LINK)
                     for name, source in self.entries(model))

    def entries(self, model: LibraryModel) -> list[tuple[str, Path]]:
        """(name in the app folder, library file): the original file name, or a real folder named
        after a folder model holding one link per file."""
        if model.primary_file:
            entries = [(model.primary_file, model.folder / model.primary_file)]
            if self.shows_previews and model.preview:
                entries.append((model.preview, model.folder / model.preview))
            return entries
        return [(f"{model.cleaned_name}/{f.name}", f.path) for f in model.files]

    # -- applying, undoing, health ----------------------------------------------------------------
    def apply(self, install: AppInstall, placement: Placement) -> Applied:
        return self.env.links.place(install, placement)

    def undo(self, install: AppInstall, record: LinkRecord) -> None:
        self.env.links.remove(record, self.keep(install, record))

    def keep(self, install: AppInstall, record: LinkRecord) -> Path:
        """The app's own folder above an entry: emptied folders are removed up to it, never it."""
        target = record.target_path
        base = install.root / self.base
        names = [n for group in (*self.mapping.values(), *install.overrides().values()) for n in group]
        for name in sorted(names, key=len, reverse=True):
            folder = base / name
            if target.parent == folder or target.parent.is_relative_to(folder):
                return folder
        return target.parent

    def check(self, install: AppInstall, record: LinkRecord) -> Finding | None:
        return self.env.links.check(record)

    def fix(self, install: AppInstall, finding: Finding) -> bool:
        return self.env.links.fix(finding)

    def scan_folders(self, install: AppInstall) -> tuple[Path, ...]:
        return tuple(install.root / s for s in self.scan if is_dir(install.root / s))
