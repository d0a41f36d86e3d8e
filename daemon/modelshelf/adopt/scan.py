"""Find the model files already inside app installs, with the importer's own probes.

Nothing is written. Symlinks are never followed: one into the library is already adopted, one
to another file of the tree leads to a file that is adopted itself, one out of the tree or in a
loop is reported. Download-tool and VCS bookkeeping and hidden entries are not looked into.
"""

from __future__ import annotations

import enum
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from ..apps import AppInstall
from ..classify import is_folder_model, is_model_file
from ..errors import NotAModelError
from ..ingest import is_tool_bookkeeping
from ..ingest.plan import ImportPlan, plan_import
from ..ingest.retire import FileKey, file_key
from ..library import Library


class SkipReason(enum.StrEnum):
    NOT_A_MODEL = "not a model"
    UNREADABLE = "cannot be read"
    LINK_INTO_LIBRARY = "already a link into the library"
    LIBRARY_FILE = "a hardlink of a library file whose bytes changed"
    LINK_IN_TREE = "a link to another file of the install (that file is adopted)"
    LINK_OUT_OF_TREE = "a link out of the install"
    BROKEN_LINK = "a broken link"
    SYMLINK_LOOP = "a symlink loop"
    BOOKKEEPING = "download or VCS bookkeeping"
    OPEN_FOR_WRITING = "open for writing (still arriving?)"
    READ_ONLY = "the app folder cannot be written"
    CHANGED = "changed while it was adopted"
    NO_SPACE = "not enough space"
    NOT_UTF8 = "its name is not valid UTF-8 (the link registry keeps names as text): rename it"
    APP_MANAGED = "the app manages its own model files"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Target:
    """A folder (or file) to adopt from, the install its links belong to, and folders under it
    left to other installs (a PATH holding configured installs)."""

    install: AppInstall
    top: Path
    leave: frozenset[Path] = frozenset()


@dataclass(frozen=True)
class AppFile:
    """One file of an app install as the scan saw it."""

    path: Path
    name: str            # its name inside the model (as the importer names it)
    key: FileKey         # st_dev, st_ino, st_size, st_mtime_ns: "the same file, unchanged"
    blocks: int          # st_blocks * 512: what it holds on disk
    nlink: int
    is_link: bool = False   # a file of a folder model already linked into the library (cut short)

    @property
    def inode(self) -> tuple[int, int]:
        return self.key[0], self.key[1]

    @property
    def size(self) -> int:
        return self.key[2]


@dataclass(frozen=True)
class Found:
    """A model (one file, or a diffusers/transformers folder) inside an install."""

    install: AppInstall
    source: Path
    files: tuple[AppFile, ...]
    import_plan: ImportPlan

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class ScanResult:
    found: tuple[Found, ...]
    skipped: tuple[Skipped, ...]


def _app_file(path: Path, name: str) -> AppFile:
    st = os.lstat(path)
    return AppFile(path, name, file_key(st), st.st_blocks * 512, st.st_nlink, stat.S_ISLNK(st.st_mode))


def _links_in(folder: Path) -> tuple[list[Path], int]:
    """The symlinks among a folder's entries (not followed), and how many entries it has."""
    links, count = [], 0
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + dirnames:
            count += name in filenames or os.path.islink(os.path.join(dirpath, name))
            if os.path.islink(os.path.join(dirpath, name)):
                links.append(Path(dirpath) / name)
    return links, count


class _Walk:
    def __init__(self, install: AppInstall, library: Library, leave: frozenset[Path]) -> None:
        self.install, self.library, self.leave = install, library, leave
        self.tree = os.path.realpath(install.root)
        self.found: list[Found] = []
        self.skipped: list[Skipped] = []

    def folder(self, folder: Path) -> None:
        if self.library.contains(folder) or folder in self.leave:
            return
        if is_folder_model(folder):
            self.model(folder)
            return
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            self.skipped.append(Skipped(folder, SkipReason.UNREADABLE, e.strerror or str(e)))
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):        # hidden: never looked into (as the inbox does)
                if entry.is_dir(follow_symlinks=False) and self._bookkeeping(path):
                    self.skipped.append(Skipped(path, SkipReason.BOOKKEEPING))
                continue
            if entry.is_symlink():
                self.link(path)
            elif entry.is_dir(follow_symlinks=False):
                self.folder(path)
            elif entry.is_file(follow_symlinks=False) and is_model_file(path):
                self.model(path)

    def _bookkeeping(self, folder: Path) -> bool:
        """A hidden folder that is (or, for .cache, holds) a download tool's or VCS's own files."""
        inside = folder.is_relative_to(self.install.root)
        rel = folder.relative_to(self.install.root) if inside else PurePath(folder.name)
        held = rel / "huggingface"
        return is_tool_bookkeeping(rel) or (folder / "huggingface").is_dir() and is_tool_bookkeeping(held)

    def link(self, path: Path) -> None:
        try:
            target = Path(os.path.realpath(path, strict=True))
        except OSError as e:
            reason = SkipReason.SYMLINK_LOOP if e.errno == errno.ELOOP else SkipReason.BROKEN_LINK
            self.skipped.append(Skipped(path, reason, os.readlink(path)))
            return
        if not (target.is_dir() or is_model_file(target) or is_model_file(path)):
            return
        if self.library.contains(target):
            reason = SkipReason.LINK_INTO_LIBRARY
        elif target.is_relative_to(self.tree):
            reason = SkipReason.LINK_IN_TREE
        else:
            reason = SkipReason.LINK_OUT_OF_TREE
        self.skipped.append(Skipped(path, reason, str(target)))

    def model(self, source: Path) -> None:
        try:
            os.fsencode(source).decode("utf-8")
        except UnicodeDecodeError:
            self.skipped.append(Skipped(source, SkipReason.NOT_UTF8))
            return
        follow = False
        if source.is_dir():
            links, entries = _links_in(source)
            if links and all(self.library.contains(p) for p in links):
                if len(links) == entries:
                    self.skipped.append(Skipped(source, SkipReason.LINK_INTO_LIBRARY))
                    return
                follow = True        # partly adopted (cut short): its links lead to that model's files
        try:
            plan = plan_import(source, follow_symlinks=follow)
            files = tuple(_app_file(f.source, f.name) for f in plan.files)
        except NotAModelError as e:
            unreadable = isinstance(e.__cause__, PermissionError)
            self.skipped.append(Skipped(source, SkipReason.UNREADABLE if unreadable else SkipReason.NOT_A_MODEL,
                                        e.reason))
            return
        except OSError as e:
            self.skipped.append(Skipped(source, SkipReason.UNREADABLE, e.strerror or str(e)))
            return
        self.found.append(Found(self.install, source, files, plan))


def scan(targets: Sequence[Target], library: Library, skipped_before: Sequence[Skipped] = ()) -> ScanResult:
    """Every model under each target; the same file reached twice is listed once (for the
    first target that reaches it). skipped_before: what was left out before the scan."""
    found: dict[Path, Found] = {}
    skipped: dict[Path, Skipped] = {s.path: s for s in skipped_before}
    for target in targets:
        install, top = target.install, target.top
        walk = _Walk(install, library, target.leave)
        if top.is_symlink():
            walk.link(top)
        elif top.is_dir():
            walk.folder(top)
        elif is_model_file(top):
            walk.model(top)
        for f in walk.found:
            found.setdefault(f.source, f)
        for s in walk.skipped:
            skipped.setdefault(s.path, s)
    return ScanResult(tuple(found.values()), tuple(skipped.values()))
