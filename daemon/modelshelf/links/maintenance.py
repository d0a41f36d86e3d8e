"""Cascade delete and drive relocation: planned first, then carried out in a safe order."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelshelfError
from ..index import IndexedModel, ModelIndex
from ..library import STAGING_NAME, Library
from .linker import is_link_to, make_link
from .registry import LinkKind, LinkRecord, LinkRegistry


@dataclass(frozen=True)
class DeletePlan:
    model: IndexedModel
    links: tuple[LinkRecord, ...]
    folder: Path


def plan_delete(model: IndexedModel, library: Library, registry: LinkRegistry) -> DeletePlan:
    """Refuse when a registered link's place holds something that is not ours."""
    links = tuple(registry.for_model(model.model_id))
    for r in links:
        if os.path.lexists(r.target_path) and not is_link_to(r.target_path, library.root / r.source):
            raise ModelshelfError(f"not deleting {model.path}: {r.target_path} is not a link to it any more "
                                  "(run `modelshelf health` to see why)")
    return DeletePlan(model, links, library.root / model.path)


def execute_delete(plan: DeletePlan, registry: LinkRegistry, index: ModelIndex) -> None:
    """Links, then registry rows, then the model's files, then its index row."""
    for r in plan.links:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(r.target_path)
        # A folder model's own folders in the app (models/diffusers/<name>/...), once empty.
        mapping_folder = Path(r.install, *Path(r.target).parts[:2])
        folder = r.target_path.parent
        while folder != mapping_folder and folder.is_relative_to(mapping_folder):
            try:
                folder.rmdir()
            except OSError:
                break                           # not empty: something of the user's is in there
            folder = folder.parent
    registry.remove(plan.links)
    # Files next, crash-safely: mark, move the folder out of the library in one rename (into
    # staging, which start-up empties), drop the row, then delete.
    index.mark_dirty(plan.model.path)
    trash = plan.folder.parent.parent.parent / STAGING_NAME / f"deleting-{plan.model.model_id}"
    trash.parent.mkdir(exist_ok=True)
    os.rename(plan.folder, trash)
    index.remove(plan.model.model_id)
    shutil.rmtree(trash)


@dataclass(frozen=True)
class RelocateReport:
    rows_moved: int
    links_recreated: int


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/") or "/"
    return path == prefix or path.startswith(prefix + "/")


def relocate(old: str, new: str, library: Library, registry: LinkRegistry) -> RelocateReport:
    """A drive moved from old to new: rewrite install paths (one transaction), then recreate
    absolute links that still point under old at the library's current files."""
    moved = registry.relocate(old, new)
    recreated = 0
    for r in registry.all():
        if r.kind is not LinkKind.ABSOLUTE or not os.path.islink(r.target_path):
            continue
        if _under(os.readlink(r.target_path), old):
            os.unlink(r.target_path)
            make_link(LinkKind.ABSOLUTE, library.root / r.source, r.target_path)
            recreated += 1
    return RelocateReport(moved, recreated)
