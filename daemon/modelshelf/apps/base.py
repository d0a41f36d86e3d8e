"""The adapter interface: one small module per app kind, each answering five questions.

1. find_installs: which installs of this app exist under a configured root (by the app's own
   marker files). A root that does not exist now is *offline*, never "empty": nothing is pruned.
2. plan: where one library model goes in one install. Pure (no filesystem access), immutable,
   shown by `--dry-run`. A model may go nowhere (the app has no folder for its type).
3. apply: make one placement and prove it resolves to the library's bytes. A user's own file
   by that name is never replaced: that is a CLASH, reported and left alone.
4. undo: remove what apply made, only while it is still ours.
5. check / fix: the health of one registry entry, and the repair health --fix carries out.

Every entry applied is one row of registry.db (`LinkRecord`), whatever its method: a file link,
a written manifest, or an API registration with the key the app returned.

Data flows one way: links/ (linker, registry, health, maintenance) uses apps/; apps/ never
imports links/.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..config import AppConfig, AppKind, LinkPolicy

if TYPE_CHECKING:
    from .filelinks import FileLinker

__all__ = ["Adapter", "AdapterEnv", "AppConfig", "AppInstall", "AppKind", "Applied", "ApplyStatus", "Finding",
           "LibraryModel", "LinkKind", "LinkPolicy", "LinkRecord", "ModelFile", "Placement", "PlacementMethod",
           "Problem", "RegistryEntry"]


class LinkKind(enum.StrEnum):
    """How a file entry is linked (registry.db `kind`). NONE: no file link (API, manifest)."""

    RELATIVE = "relative_symlink"
    ABSOLUTE = "absolute_symlink"
    HARDLINK = "hardlink"
    NONE = "none"


class PlacementMethod(enum.StrEnum):
    """What a placement makes (registry.db `method`)."""

    LINK = "link"            # a link to one library file; its LinkKind is chosen at apply time from the
    #                          install's policy and the filesystems (relative/absolute symlink, hardlink)
    BLOB = "blob"            # a content-addressed link shared by several app entries (Ollama blobs/sha256-…)
    MANIFEST = "manifest"    # a small file modelshelf writes in the app's own format (Ollama manifest)
    API = "api"              # a registration through the app's HTTP API; `key` is the app's id for it


@dataclass(frozen=True)
class ModelFile:
    """One file of a library model."""

    name: str                # relative to the model folder ("model.safetensors", "unet/x.safetensors")
    path: Path               # absolute, in the library
    size: int
    sha256: str


@dataclass(frozen=True)
class LibraryModel:
    """What an adapter may know about a model when planning (built by the linker from the index)."""

    model_id: str
    model_type: str          # classify.kinds.ModelType value, compared as a string
    family: str
    cleaned_name: str
    format: str              # safetensors, gguf, torch, diffusers, folder
    folder: Path             # the model folder in the library (absolute)
    primary_file: str | None  # single-file models; None for folder models (diffusers, HF folders)
    files: tuple[ModelFile, ...]
    sha256: str              # the primary file's (whole-file SHA-256: Ollama's blob name)
    hub_repo_id: str | None = None     # "publisher/repo" of the Hub match
    header_name: str | None = None     # the file's own name (GGUF general.name), when known
    official_name: str | None = None
    preview: str | None = None         # "<file stem>.preview.<ext>" in the model folder, when saved

    @property
    def is_folder(self) -> bool:
        return self.primary_file is None


@dataclass(frozen=True)
class AppInstall:
    """One install of an app found under a configured root, e.g. ~/comfyui-versions/v0.3.40."""

    root: Path
    kind: AppKind
    link: LinkPolicy = LinkPolicy.AUTO
    mapping: tuple[tuple[str, tuple[str, ...]], ...] = ()    # the user's model_type -> folders overrides
    url: str = ""                                            # API apps: where the server answers

    def overrides(self) -> dict[str, tuple[str, ...]]:
        return dict(self.mapping)


@dataclass(frozen=True)
class Placement:
    """One planned entry: immutable, shown by --dry-run."""

    install_root: Path
    model_id: str
    source: Path                     # the library file (or folder, for whole-folder registrations)
    target: Path | None              # the entry in the app's tree; None for API registrations
    method: PlacementMethod
    key: str | None = None           # app-side id known at plan time (an Ollama model name)

    @property
    def registry_target(self) -> str:
        """registry.db's `target`: the path relative to the install, or `api:<model_id>` for API entries."""
        if self.target is None:
            return f"api:{self.model_id}"
        return self.target.relative_to(self.install_root).as_posix()


@dataclass(frozen=True)
class LinkRecord:
    """One registry.db row: an entry modelshelf made in an app, whatever its method."""

    install: str        # absolute install root
    target: str         # the entry relative to the install root (see Placement.registry_target)
    model_id: str
    source: str         # the library file, relative to the library root
    kind: LinkKind
    external: bool      # the entry is on another filesystem than the library
    method: PlacementMethod = PlacementMethod.LINK
    key: str | None = None       # app-side id: InvokeAI model key, Ollama model name

    @property
    def target_path(self) -> Path:
        return Path(self.install) / self.target

    @property
    def is_file_entry(self) -> bool:
        return self.method is not PlacementMethod.API


RegistryEntry = LinkRecord


class ApplyStatus(enum.StrEnum):
    CREATED = "created"
    PRESENT = "present"      # already there and ours: registered again, nothing made
    CLASH = "clash"          # the app has its own file by that name: left alone
    PENDING = "pending"      # the app's server does not answer: retried later, imports do not wait
    ERROR = "error"


@dataclass(frozen=True)
class Applied:
    """The outcome of one apply: the registry row to record (CREATED/PRESENT), or why not."""

    placement: Placement
    status: ApplyStatus
    record: LinkRecord | None = None
    detail: str = ""


class Problem(enum.StrEnum):
    BROKEN = "broken"              # the entry or its library file is gone
    MISMATCHED = "mismatched"      # something else is where the registry says our entry is
    ORPHANED = "orphaned"          # a link into the library that the registry does not know
    GHOST_APP = "ghost_app"        # the install was deleted
    OFFLINE_APP = "offline_app"    # the install's drive is not mounted now (or its server is down)
    MISSING_FILE = "missing_file"  # an indexed model's file is gone from the library


@dataclass(frozen=True)
class Finding:
    problem: Problem
    path: str
    detail: str
    fix: str | None = None          # what --fix will do; None: nothing safe to do automatically
    record: LinkRecord | None = None


@dataclass(frozen=True)
class AdapterEnv:
    """What every adapter is built with (by the linker): the library and the link maker."""

    library_root: Path
    links: FileLinker                      # makes, checks and removes verified file links
    timeout_seconds: float = 5.0           # API apps: one request's limit


@runtime_checkable
class Adapter(Protocol):
    """One app kind. Built once per Linker with an AdapterEnv; holds no state about models."""

    kind: AppKind

    def find_installs(self, app: AppConfig) -> list[AppInstall]:
        """Installs under app's root that exist now, recognised by the app's marker files."""
        ...

    def plan(self, install: AppInstall, model: LibraryModel) -> tuple[Placement, ...]:
        """Where model goes in install; () when the app has no place for its type. Pure."""
        ...

    def apply(self, install: AppInstall, placement: Placement) -> Applied:
        """Make the entry and verify it resolves to the library's bytes; never replace a user's file."""
        ...

    def undo(self, install: AppInstall, record: LinkRecord) -> None:
        """Remove what apply made, only if it is still ours (a user's file is left alone)."""
        ...

    def check(self, install: AppInstall, record: LinkRecord) -> Finding | None:
        """The health of one registry entry (the install is online here)."""
        ...

    def fix(self, install: AppInstall, finding: Finding) -> bool:
        """Carry out finding.fix. True: the registry row stays; False: forget the row."""
        ...

    def scan_folders(self, install: AppInstall) -> tuple[Path, ...]:
        """Folders health walks for links into the library that the registry does not know."""
        ...


def is_dir(path: Path) -> bool:
    """A real folder (not a link to one): app folders are never replaced by links, or followed."""
    return path.is_dir() and not os.path.islink(path)


def markers_present(root: Path, markers: tuple[str, ...]) -> bool:
    """Any of the app's marker files or folders exists under root."""
    return any(os.path.lexists(root / m) for m in markers)

