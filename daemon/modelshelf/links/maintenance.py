"""Cascade delete and drive relocation: planned first, then carried out in a safe order."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..apps import AdapterEnv, Adapters, AppInstall, AppKind, PlacementMethod
from ..apps.filelinks import FileLinker, is_link_to, make_link
from ..errors import ModelshelfError
from ..fs.paths import is_within
from ..index import IndexedModel, ModelIndex
from ..library import STAGING_NAME, Library
from .registry import LinkKind, LinkRecord, LinkRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeletePlan:
    model: IndexedModel
    links: tuple[LinkRecord, ...]
    folder: Path
    library_root: Path
    installs: tuple[AppInstall, ...]      # each entry's install, as the registry knows it


def plan_delete(model: IndexedModel, library: Library, registry: LinkRegistry) -> DeletePlan:
    """Refuse when a registered link's place holds something that is not ours."""
    links = tuple(registry.for_model(model.model_id))
    for r in links:
        if r.method is not PlacementMethod.LINK:
            continue                              # manifests and API entries: their adapter checks ownership
        if os.path.lexists(r.target_path) and not is_link_to(r.target_path, library.root / r.source):
            raise ModelshelfError(f"not deleting {model.path}: {r.target_path} is not a link to it any more "
                                  "(run `modelshelf health` to see why)")
    known = registry.known_installs()
    installs = tuple(known.get(root) or AppInstall(Path(root), AppKind.COMFYUI)
                     for root in sorted({r.install for r in links}))
    return DeletePlan(model, links, library.root / model.path, library.root, installs)


def execute_delete(plan: DeletePlan, registry: LinkRegistry, index: ModelIndex) -> None:
    """Every app's entries (each by its adapter), then registry rows, then the model's files,
    then its index row."""
    adapters = Adapters(AdapterEnv(plan.library_root, FileLinker(plan.library_root)))
    installs = {str(i.root): i for i in plan.installs}
    removed = []
    for r in plan.links:
        install = installs[r.install]
        try:
            adapters(install.kind).undo(install, r)
            removed.append(r)
        except (OSError, ModelshelfError) as e:
            # The files go anyway; the row stays, so health reports the app's leftover (an InvokeAI
            # registration whose file is gone) and --fix removes it once the app answers.
            log.warning("deleting %s: could not remove its entry %s in %s (health will report it): %s",
                        plan.model.path, r.target, r.install, e)
    registry.remove(removed)
    for root, model_id, _ in registry.pending():       # registrations still waiting: never to be made
        if model_id == plan.model.model_id:
            registry.remove_pending(root, model_id)
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


def relocate(old: str, new: str, library: Library, registry: LinkRegistry) -> RelocateReport:
    """A drive moved from old to new: rewrite install paths (one transaction), then recreate
    absolute links that still point under old at the library's current files."""
    moved = registry.relocate(old, new)
    recreated = 0
    for r in registry.all():
        if r.method is PlacementMethod.API or r.kind is not LinkKind.ABSOLUTE or not os.path.islink(r.target_path):
            continue
        if is_within(os.readlink(r.target_path), old):
            os.unlink(r.target_path)
            make_link(LinkKind.ABSOLUTE, library.root / r.source, r.target_path)
            recreated += 1
    return RelocateReport(moved, recreated)
