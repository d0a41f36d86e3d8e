"""Health of links and library: find problems, plan fixes (shown by --dry-run), then apply them
in a safe order. An install or library on a drive that is not mounted now is *offline*: reported,
never pruned."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..fs.mounts import read_mounts
from ..index import ModelIndex
from ..library import Library
from .apps import AppInstall
from .linker import is_link_to, make_link
from .registry import LinkRecord, LinkRegistry


class Problem(enum.StrEnum):
    BROKEN = "broken"              # the link or its library file is gone
    MISMATCHED = "mismatched"      # something else is where the registry says our link is
    ORPHANED = "orphaned"          # a link into the library that the registry does not know
    GHOST_APP = "ghost_app"        # the install was deleted
    OFFLINE_APP = "offline_app"    # the install's drive is not mounted now
    MISSING_FILE = "missing_file"  # an indexed model's file is gone from the library


_ERRORS = {Problem.MISSING_FILE, Problem.BROKEN}


@dataclass(frozen=True)
class Finding:
    problem: Problem
    path: str
    detail: str
    fix: str | None = None          # what --fix will do; None: nothing safe to do automatically
    record: LinkRecord | None = None


@dataclass(frozen=True)
class HealthReport:
    findings: tuple[Finding, ...]
    links_checked: int
    installs: tuple[str, ...]

    @property
    def status(self) -> str:
        if any(f.problem in _ERRORS for f in self.findings):
            return "errors"
        return "warnings" if self.findings else "healthy"


def _install_state(root: str, mount_point: str, mounted: set[str]) -> Problem | None:
    if os.path.isdir(root):
        return None
    if mount_point not in ("", "/") and mount_point not in mounted:
        return Problem.OFFLINE_APP      # its drive is away: it may come back
    return Problem.GHOST_APP


def check_health(library: Library, index: ModelIndex, registry: LinkRegistry,
                 installs: list[AppInstall]) -> HealthReport:
    findings: list[Finding] = []
    mounted = {m.mount_point for m in read_mounts()}
    known_installs = registry.installs()
    records = registry.all()
    by_install: dict[str, list[LinkRecord]] = {}
    for r in records:
        by_install.setdefault(r.install, []).append(r)
    for root, rows in sorted(by_install.items()):
        state = _install_state(root, known_installs.get(root, ""), mounted)
        if state is Problem.OFFLINE_APP:
            findings.append(Finding(state, root, f"{len(rows)} links wait for {known_installs[root]} to be mounted"))
        elif state is Problem.GHOST_APP:
            findings.append(Finding(state, root, f"install deleted; {len(rows)} registry entries left",
                                    "forget its links"))
        else:
            findings += [f for r in rows if (f := _check_link(library, r)) is not None]
    findings += _orphans(library, {(r.install, r.target) for r in records}, installs)
    findings += _missing_files(library, index)
    return HealthReport(tuple(findings), len(records), tuple(str(i.root) for i in installs))


def _check_link(library: Library, r: LinkRecord) -> Finding | None:
    source, target = library.root / r.source, r.target_path
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


def _orphans(library: Library, known: set[tuple[str, str]], installs: list[AppInstall]) -> list[Finding]:
    root = os.path.realpath(library.root)
    found = []
    for install in installs:
        for dirpath, dirnames, filenames in os.walk(install.models):
            for name in filenames + dirnames:
                path = Path(dirpath) / name
                if not path.is_symlink():
                    continue
                dest = os.path.realpath(path)
                if not (dest == root or dest.startswith(root + os.sep)):
                    continue
                rel = path.relative_to(install.root).as_posix()
                if (str(install.root), rel) not in known:
                    fix = "register it" if os.path.isfile(dest) else "remove the dangling link"
                    found.append(Finding(Problem.ORPHANED, str(path), f"links to {dest}", fix))
    return found


def _missing_files(library: Library, index: ModelIndex) -> list[Finding]:
    missing = []
    for m in index.all():
        for f in index.files(m.model_id):
            if not (library.root / m.path / f["name"]).is_file():
                missing.append(Finding(Problem.MISSING_FILE, f"{m.path}/{f['name']}",
                                       "indexed but missing: restore it from a backup, or run `modelshelf "
                                       "rebuild-index` to drop the model"))
    return missing


@dataclass(frozen=True)
class FixResult:
    finding: Finding
    done: bool
    detail: str = ""


_ORDER = [Problem.BROKEN, Problem.MISMATCHED, Problem.ORPHANED, Problem.GHOST_APP]


def apply_fixes(report: HealthReport, library: Library, registry: LinkRegistry,
                adopt: Callable[[Path], bool]) -> list[FixResult]:
    """Execute the plan: links first (remove, repoint, recreate), then orphans, then registry
    rows of deleted installs. Offline installs and missing library files are never touched."""
    results = []
    for problem in _ORDER:
        for f in (f for f in report.findings if f.problem is problem and f.fix):
            try:
                _fix(f, library, registry, adopt)
                results.append(FixResult(f, True, f.fix or ""))
            except OSError as e:
                results.append(FixResult(f, False, f"{f.fix} failed: {e.strerror}"))
    return results


def _fix(f: Finding, library: Library, registry: LinkRegistry, adopt: Callable[[Path], bool]) -> None:
    r = f.record
    if f.problem is Problem.GHOST_APP:
        registry.remove_install(f.path)
    elif f.problem is Problem.ORPHANED:
        path = Path(f.path)
        if not (os.path.isfile(os.path.realpath(path)) and adopt(path)):
            os.unlink(path)
    elif r is not None and f.problem is Problem.BROKEN:
        source = library.root / r.source
        if source.exists():
            make_link(r.kind, source, r.target_path)
        else:
            if os.path.islink(r.target_path):
                os.unlink(r.target_path)
            registry.remove([r])
    elif r is not None and f.problem is Problem.MISMATCHED:
        if os.path.islink(r.target_path):
            os.unlink(r.target_path)
            make_link(r.kind, library.root / r.source, r.target_path)
        else:
            registry.remove([r])
