"""File links into app trees, shared by every link-based adapter.

The link kind follows the filesystems: a relative symlink when the install and the library share
one (survives moving both together), an absolute symlink across filesystems (breaks if the
library's drive is unmounted: warned), a hardlink on NTFS (where Windows cannot follow Linux
symlinks; one filesystem only). A canary link proves the kind works in a folder before first
use. There is never a silent copy, and an app's own file with the same name is never touched.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from pathlib import Path

from ..fs.checks import FsFacts, fs_facts
from .base import (
    AppInstall,
    Applied,
    ApplyStatus,
    Finding,
    LinkKind,
    LinkPolicy,
    LinkRecord,
    Placement,
    PlacementMethod,
    Problem,
)

log = logging.getLogger(__name__)


class LinkError(OSError):
    pass


def is_link_to(target: Path, source: Path) -> bool:
    """True if target is a symlink leading to source's bytes, or a hardlink of it. Compared by
    file identity (device, inode): two stats instead of resolving every path component, which
    was most of a full sync's time."""
    try:
        st = os.stat(target) if os.path.islink(target) else os.lstat(target)
        src = os.stat(source)
    except OSError:
        return False                     # dangling, or the library's drive is away
    return (st.st_dev, st.st_ino) == (src.st_dev, src.st_ino)


def make_link(kind: LinkKind, source: Path, target: Path) -> None:
    if kind is LinkKind.HARDLINK:
        os.link(source, target)
    elif kind is LinkKind.RELATIVE:
        os.symlink(os.path.relpath(source, target.parent), target)
    else:
        os.symlink(source, target)


def link_kind_of(target: Path) -> LinkKind:
    if not os.path.islink(target):
        return LinkKind.HARDLINK
    return LinkKind.ABSOLUTE if os.path.isabs(os.readlink(target)) else LinkKind.RELATIVE


def require_writable(folder: Path) -> FsFacts:
    """folder's filesystem facts; LinkError (writing nothing) if links cannot be made there."""
    facts = fs_facts(folder)
    if facts.read_only or not facts.writable:
        raise LinkError(errno.EROFS if facts.read_only else errno.EACCES,
                        f"{folder} is {'on a read-only mount' if facts.read_only else 'not writable'}")
    return facts


def explain(error: OSError, target: Path) -> str:
    """One line a person can act on."""
    if isinstance(error, LinkError):
        return str(error.args[1] if len(error.args) > 1 else error)
    reasons = {errno.EROFS: "the app folder is on a read-only filesystem",
               errno.EACCES: "no permission to write in the app folder",
               errno.EPERM: "this filesystem does not allow that kind of link",
               errno.ENOSPC: "no space left for the link",
               errno.EXDEV: "hardlinks need one filesystem"}
    return f"{reasons.get(error.errno, error.strerror or str(error))} ({target.parent})"


def _first_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class FileLinker:
    """Makes, checks and removes verified file links. Owned by one Linker; caches the link kind
    proven per target folder."""

    def __init__(self, library_root: Path) -> None:
        self.library_root = library_root
        self.library_dev = os.stat(library_root).st_dev
        self.ops = 0                                  # filesystem operations, for the benchmark
        self._kinds: dict[tuple[str, int], LinkKind] = {}

    # -- apply ------------------------------------------------------------------------------------
    def place(self, install: AppInstall, placement: Placement) -> Applied:
        """Link placement.source at placement.target; a user's file there is a CLASH, left alone."""
        target, source = placement.target, placement.source
        assert target is not None, "file placements have a target"
        self.ops += 1
        if os.path.lexists(target):
            if is_link_to(target, source):
                return Applied(placement, ApplyStatus.PRESENT, self.record(install, placement))
            log.warning("not linking %s: %s already exists and is not ours (left alone)", source.name, target)
            return Applied(placement, ApplyStatus.CLASH,
                           detail=f"{target} exists and is not a link to the library: left alone")
        try:
            self._make_parents(target.parent)
            kind = self.kind_for(install.link, target.parent, source)
            make_link(kind, source, target)
            self.ops += 1
            if not is_link_to(target, source):      # verify: the app's path leads to the library bytes
                os.unlink(target)
                raise LinkError(errno.EIO, f"{target} does not lead to the library file after linking")
        except OSError as e:
            detail = explain(e, target)
            log.error("cannot link %s into %s: %s", source.name, install.root, detail)
            return Applied(placement, ApplyStatus.ERROR, detail=detail)
        return Applied(placement, ApplyStatus.CREATED, self.record(install, placement))

    def _make_parents(self, folder: Path) -> None:
        """Create the folders a link needs, after proving the nearest existing one is writable:
        a read-only app tree gets a clear error and no half-made folders."""
        if folder.is_dir():
            return
        require_writable(_first_existing(folder))
        folder.mkdir(parents=True, exist_ok=True)

    def record(self, install: AppInstall, placement: Placement,
               method: PlacementMethod = PlacementMethod.LINK) -> LinkRecord:
        target = placement.target
        assert target is not None
        external = os.stat(target.parent).st_dev != self.library_dev
        return LinkRecord(str(install.root), placement.registry_target, placement.model_id,
                          placement.source.relative_to(self.library_root).as_posix(), link_kind_of(target),
                          external, method, placement.key)

    # -- undo -------------------------------------------------------------------------------------
    def remove(self, record: LinkRecord, keep: Path) -> None:
        """Remove our link (not a user's file), then the folders it needed once empty, up to keep."""
        target = record.target_path
        ours = os.path.islink(target) or is_link_to(target, self.library_root / record.source)
        if os.path.lexists(target) and ours:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
        folder = target.parent
        while folder != keep and folder.is_relative_to(keep):
            try:
                folder.rmdir()
            except OSError:
                break                           # not empty: something of the user's is in there
            folder = folder.parent

    # -- health -----------------------------------------------------------------------------------
    def check(self, r: LinkRecord) -> Finding | None:
        source, target = self.library_root / r.source, r.target_path
        if not source.exists():
            return Finding(Problem.BROKEN, str(target), f"its library file {r.source} is gone", "remove the link", r)
        if not os.path.lexists(target):
            return Finding(Problem.BROKEN, str(target), "the link was deleted", "recreate it", r)
        if not is_link_to(target, source):
            ours = os.path.islink(target)
            return Finding(Problem.MISMATCHED, str(target),
                           "the link points elsewhere" if ours else "replaced by a file that is not ours",
                           "point it at the library file" if ours else "forget it (the file is left alone)", r)
        return None

    def fix(self, f: Finding) -> bool:
        """Repair one BROKEN/MISMATCHED link. True: the registry row stays; False: forget it."""
        r = f.record
        if r is None:
            return True
        source, target = self.library_root / r.source, r.target_path
        if f.problem is Problem.BROKEN:
            if source.exists():
                self._make_parents(target.parent)
                make_link(r.kind if r.kind is not LinkKind.NONE else LinkKind.ABSOLUTE, source, target)
                return True
            if os.path.islink(target):
                os.unlink(target)
            return False
        if f.problem is Problem.MISMATCHED and os.path.islink(target):
            os.unlink(target)
            make_link(r.kind, source, target)
            return True
        return False                             # a user's file took the place: forget our row

    # -- choosing and proving the kind ------------------------------------------------------------
    def kind_for(self, policy: LinkPolicy, folder: Path, source: Path) -> LinkKind:
        key = (str(folder), os.stat(folder).st_dev)
        if key not in self._kinds:
            kind = self._choose(policy, folder, source)
            self._canary(kind, folder, source)
            self._kinds[key] = kind
        return self._kinds[key]

    def _choose(self, policy: LinkPolicy, folder: Path, source: Path) -> LinkKind:
        facts = require_writable(folder)
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
