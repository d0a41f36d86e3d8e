"""Health of app entries and library: find problems, plan fixes (shown by --dry-run), then apply
them in a safe order. Each entry is checked by its app kind's adapter. An install or library on a
drive that is not mounted now is *offline*: reported, never pruned."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..apps import AdapterEnv, Adapters, AppInstall, AppKind, Finding, Problem
from ..apps.filelinks import FileLinker
from ..errors import ModelshelfError
from ..fs.mounts import read_mounts
from ..fs.paths import is_within
from ..index import ModelIndex
from ..library import Library
from .registry import LinkRecord, LinkRegistry

__all__ = ["Finding", "FixResult", "HealthReport", "Problem", "apply_fixes", "check_health"]

_ERRORS = {Problem.MISSING_FILE, Problem.BROKEN}


class HealthStatus(enum.StrEnum):
    HEALTHY = "healthy"
    WARNINGS = "warnings"       # offline installs, orphans: nothing is broken for the apps
    ERRORS = "errors"           # a broken link or a lost library file


@dataclass(frozen=True)
class HealthReport:
    findings: tuple[Finding, ...]
    links_checked: int
    installs: tuple[str, ...]

    @property
    def status(self) -> HealthStatus:
        if any(f.problem in _ERRORS for f in self.findings):
            return HealthStatus.ERRORS
        return HealthStatus.WARNINGS if self.findings else HealthStatus.HEALTHY


def _install_state(root: str, mount_point: str, mounted: set[str]) -> Problem | None:
    if os.path.isdir(root):
        return None
    if mount_point not in ("", "/") and mount_point not in mounted:
        return Problem.OFFLINE_APP      # its drive is away: it may come back
    return Problem.GHOST_APP


def _adapters(library: Library) -> Adapters:
    return Adapters(AdapterEnv(library.root, FileLinker(library.root)))


def _install_for(root: str, current: dict[str, AppInstall], registry: LinkRegistry) -> AppInstall:
    """The configured install (with its link policy and mapping), else what the registry knows."""
    return current.get(root) or registry.known_installs().get(root) or AppInstall(Path(root), AppKind.COMFYUI)


def check_health(library: Library, index: ModelIndex, registry: LinkRegistry,
                 installs: list[AppInstall]) -> HealthReport:
    findings: list[Finding] = []
    adapters = _adapters(library)
    mounted = {m.mount_point for m in read_mounts()}
    mount_points = registry.installs()
    current = {str(i.root): i for i in installs}
    records = registry.all()
    by_install: dict[str, list[LinkRecord]] = {}
    for r in records:
        by_install.setdefault(r.install, []).append(r)
    for root, rows in sorted(by_install.items()):
        state = _install_state(root, mount_points.get(root, ""), mounted)
        if state is Problem.OFFLINE_APP:
            findings.append(Finding(state, root, f"{len(rows)} entries wait for {mount_points[root]} to be mounted"))
        elif state is Problem.GHOST_APP:
            findings.append(Finding(state, root, f"install deleted; {len(rows)} registry entries left",
                                    "forget its entries"))
        else:
            install = _install_for(root, current, registry)
            adapter = adapters(install.kind)
            findings += [f for r in rows if (f := adapter.check(install, r)) is not None]
    findings += _orphans(library, adapters, {(r.install, r.target) for r in records}, installs)
    findings += _missing_files(library, index)
    return HealthReport(tuple(findings), len(records), tuple(str(i.root) for i in installs))


def _orphans(library: Library, adapters: Adapters, known: set[tuple[str, str]],
             installs: list[AppInstall]) -> list[Finding]:
    root = os.path.realpath(library.root)
    found = []
    for install in installs:
        for folder in adapters(install.kind).scan_folders(install):
            for dirpath, dirnames, filenames in os.walk(folder):
                for name in filenames + dirnames:
                    path = Path(dirpath) / name
                    if not path.is_symlink():
                        continue
                    dest = os.path.realpath(path)
                    if not is_within(dest, root):
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
            if not (library.root / m.path / f.name).is_file():
                missing.append(Finding(Problem.MISSING_FILE, f"{m.path}/{f.name}",
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
    """Execute the plan: entries first (remove, repoint, recreate), then orphans, then registry
    rows of deleted installs. Offline installs and missing library files are never touched."""
    adapters = _adapters(library)
    results = []
    for problem in _ORDER:
        for f in (f for f in report.findings if f.problem is problem and f.fix):
            try:
                _fix(f, adapters, registry, adopt)
                results.append(FixResult(f, True, f.fix or ""))
            except (OSError, ModelshelfError) as e:    # an app's API too (InvokeAI down)
                detail = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                results.append(FixResult(f, False, f"{f.fix} failed: {detail}"))
    return results


def _fix(f: Finding, adapters: Adapters, registry: LinkRegistry, adopt: Callable[[Path], bool]) -> None:
    if f.problem is Problem.GHOST_APP:
        registry.remove_install(f.path)
    elif f.problem is Problem.ORPHANED:
        path = Path(f.path)
        if not (os.path.isfile(os.path.realpath(path)) and adopt(path)):
            os.unlink(path)
    elif f.record is not None:
        install = _install_for(f.record.install, {}, registry)
        if not adapters(install.kind).fix(install, f):
            registry.remove([f.record])
