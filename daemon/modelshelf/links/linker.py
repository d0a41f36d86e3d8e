"""Make library models appear in app installs as links, one per file, with the original names.

The link kind follows the filesystems: a relative symlink when the install and the library share
one (survives moving both together), an absolute symlink across filesystems (breaks if the
library's drive is unmounted: warned), a hardlink on NTFS (where Windows cannot follow Linux
symlinks; one filesystem only). A canary link proves the kind works in a folder before first
use. There is never a silent copy, and an app's own file with the same name is never touched.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import AppConfig, LinkPolicy
from ..fs.checks import fs_facts
from ..fs.mounts import mount_of
from ..index import IndexedModel, ModelIndex
from ..library import Library
from .apps import AppInstall, discover_installs
from .registry import LinkKind, LinkRecord, LinkRegistry

log = logging.getLogger(__name__)


class LinkStatus(enum.StrEnum):
    CREATED = "created"
    PRESENT = "present"
    CLASH = "clash"          # the app has its own file by that name: left alone
    ERROR = "error"


@dataclass(frozen=True)
class LinkResult:
    install: str
    target: str
    status: LinkStatus
    kind: LinkKind | None = None
    detail: str = ""


class LinkError(OSError):
    pass


def is_link_to(target: Path, source: Path) -> bool:
    """True if target is a symlink resolving to source, or a hardlink of it."""
    try:
        st = os.lstat(target)
        if os.path.islink(target):
            return os.path.realpath(target) == os.path.realpath(source)
        src = os.stat(source)
        return (st.st_dev, st.st_ino) == (src.st_dev, src.st_ino)
    except OSError:
        return False


def make_link(kind: LinkKind, source: Path, target: Path) -> None:
    if kind is LinkKind.HARDLINK:
        os.link(source, target)
    elif kind is LinkKind.RELATIVE:
        os.symlink(os.path.relpath(source, target.parent), target)
    else:
        os.symlink(source, target)


class Linker:
    def __init__(self, library: Library, index: ModelIndex, registry: LinkRegistry,
                 apps: tuple[AppConfig, ...]) -> None:
        self.library, self.index, self.registry, self.apps = library, index, registry, apps
        self.ops = 0                                  # filesystem operations, for the benchmark
        self._kinds: dict[tuple[str, int], LinkKind] = {}
        self._library_dev = os.stat(library.root).st_dev

    def installs(self) -> list[AppInstall]:
        installs = discover_installs(self.apps)
        known = self.registry.installs()
        for install in installs:
            if str(install.root) not in known:
                mount = mount_of(install.root)   # only where it lives: offline drives are told apart by it
                self.registry.add_install(install.root, mount.mount_point if mount else "")
        return installs

    # -- syncing --------------------------------------------------------------------------------
    def sync_model(self, model: IndexedModel, installs: list[AppInstall] | None = None) -> list[LinkResult]:
        """Link one model into every install (cost independent of the library's size)."""
        results: list[LinkResult] = []
        for install in installs if installs is not None else self.installs():
            folder = install.folder_for(model.model_type)
            self.ops += 1
            if folder is None:
                continue
            for name, source in self._files(model):
                results.append(self._link(install, folder, name, source, model.model_id))
        return results

    def sync_all(self, installs: list[AppInstall] | None = None) -> list[LinkResult]:
        installs = installs if installs is not None else self.installs()
        with self.registry.atomic():  # one transaction, not one per link
            return [r for model in self.index.all() for r in self.sync_model(model, installs)]

    def _files(self, model: IndexedModel) -> list[tuple[str, Path]]:
        folder = self.library.root / model.path
        if model.primary_file:
            return [(model.primary_file, folder / model.primary_file)]
        return [(f"{model.cleaned_name}/{f['name']}", folder / f["name"]) for f in self.index.files(model.model_id)]

    def _link(self, install: AppInstall, folder: Path, name: str, source: Path, model_id: str) -> LinkResult:
        target = folder / name
        rel_target = target.relative_to(install.root).as_posix()
        self.ops += 1
        if os.path.lexists(target):
            if is_link_to(target, source):
                self._register(install, rel_target, model_id, source, target)
                return LinkResult(str(install.root), rel_target, LinkStatus.PRESENT)
            log.warning("not linking %s: %s already exists and is not ours (left alone)", source.name, target)
            return LinkResult(str(install.root), rel_target, LinkStatus.CLASH,
                              detail=f"{target} exists and is not a link to the library: left alone")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            kind = self.kind_for(install, target.parent, source)
            make_link(kind, source, target)
            self.ops += 1
        except OSError as e:
            detail = _explain(e, target)
            log.error("cannot link %s into %s: %s", source.name, install.root, detail)
            return LinkResult(str(install.root), rel_target, LinkStatus.ERROR, detail=detail)
        self._register(install, rel_target, model_id, source, target)
        return LinkResult(str(install.root), rel_target, LinkStatus.CREATED, kind)

    def _register(self, install: AppInstall, rel_target: str, model_id: str, source: Path, target: Path) -> None:
        kind = (LinkKind.HARDLINK if not os.path.islink(target) else
                LinkKind.ABSOLUTE if os.path.isabs(os.readlink(target)) else LinkKind.RELATIVE)
        external = os.stat(target.parent).st_dev != self._library_dev
        self.registry.add(LinkRecord(str(install.root), rel_target, model_id, self.library.relative(source), kind,
                                     external))

    def adopt(self, link: Path) -> bool:
        """Register an unknown link that leads to a library file of an indexed model."""
        dest = Path(os.path.realpath(link))
        install = next((i for i in self.installs() if link.is_relative_to(i.root)), None)
        if install is None or not dest.is_relative_to(os.path.realpath(self.library.root)):
            return False
        rel = dest.relative_to(os.path.realpath(self.library.root)).as_posix()
        model = next((m for m in self.index.all() if rel.startswith(m.path + "/")), None)
        if model is None:
            return False
        self._register(install, link.relative_to(install.root).as_posix(), model.model_id, self.library.root / rel,
                       link)
        return True

    # -- choosing and proving the kind ------------------------------------------------------------
    def kind_for(self, install: AppInstall, folder: Path, source: Path) -> LinkKind:
        key = (str(folder), os.stat(folder).st_dev)
        if key not in self._kinds:
            kind = self._choose(install.link, folder, source)
            self._canary(kind, folder, source)
            self._kinds[key] = kind
        return self._kinds[key]

    def _choose(self, policy: LinkPolicy, folder: Path, source: Path) -> LinkKind:
        facts = fs_facts(folder)
        if facts.read_only or not facts.writable:
            raise LinkError(errno.EROFS if facts.read_only else errno.EACCES,
                            f"{folder} is {'on a read-only mount' if facts.read_only else 'not writable'}")
        for warning in facts.warnings:       # once per target folder: NTFS, network, sandbox
            log.warning("linking into %s: %s", folder, warning)
        same_fs = os.stat(folder).st_dev == os.stat(source).st_dev
        if policy is LinkPolicy.HARDLINK or (policy is LinkPolicy.AUTO and facts.is_ntfs):
            if same_fs:
                return LinkKind.HARDLINK
            if policy is LinkPolicy.HARDLINK:
                raise LinkError(errno.EXDEV, f"hardlinks need the library and {folder} on one filesystem")
        if policy is LinkPolicy.RELATIVE or (policy is LinkPolicy.AUTO and same_fs):
            return LinkKind.RELATIVE
        log.warning("linking into %s with absolute symlinks: it is on another filesystem than the library, "
                    "so the links break while the library's drive is not mounted", folder)
        return LinkKind.ABSOLUTE

    def _canary(self, kind: LinkKind, folder: Path, source: Path) -> None:
        canary = folder / f".modelshelf-canary-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(canary)
        try:
            make_link(kind, source, canary)
            if not is_link_to(canary, source):
                raise LinkError(errno.EIO, f"a test {kind} in {folder} does not lead to the library file")
        except LinkError:
            raise
        except OSError as e:
            raise LinkError(e.errno, f"a test {kind} in {folder} failed: {e.strerror}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(canary)


def _explain(error: OSError, target: Path) -> str:
    if isinstance(error, LinkError):
        return str(error.args[1] if len(error.args) > 1 else error)
    reasons = {errno.EROFS: "the app folder is on a read-only filesystem",
               errno.EACCES: "no permission to write in the app folder",
               errno.EPERM: "this filesystem does not allow that kind of link",
               errno.ENOSPC: "no space left for the link",
               errno.EXDEV: "hardlinks need one filesystem"}
    return f"{reasons.get(error.errno, error.strerror or str(error))} ({target.parent})"
