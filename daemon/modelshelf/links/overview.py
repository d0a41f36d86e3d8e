"""`modelshelf apps`: each configured install with its kind, link method, models placed and
problems. Reads only: no install is registered and nothing is linked."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path

from ..apps import AdapterEnv, Adapters
from ..apps.discover import configured_installs
from ..apps.filelinks import FileLinker
from ..config import AppConfig
from .registry import LinkRegistry


@dataclass(frozen=True)
class InstallView:
    kind: str
    root: str
    link: str                       # the configured policy (auto, relative, absolute, hardlink)
    state: str                      # online, or offline (the root names nothing now)
    models: int                     # models with at least one entry here
    entries: int
    methods: tuple[str, ...]        # what the entries are: relative_symlink, hardlink, api, ...
    problems: tuple[str, ...]


def apps_overview(library_root: Path, registry: LinkRegistry, apps: tuple[AppConfig, ...]) -> list[InstallView]:
    adapters = Adapters(AdapterEnv(library_root, FileLinker(library_root)))
    pending = collections.Counter(root for root, _, _ in registry.pending())
    views = []
    for app in apps:
        installs = configured_installs((app,))
        if not installs:
            views.append(InstallView(app.kind.value, app.pattern, app.link.value, "offline", 0, 0, (),
                                     (f"{app.pattern} names no {app.kind.value} install now (drive not mounted, "
                                      "or not installed yet): nothing is pruned",)))
        for install in installs:
            rows = registry.for_install(str(install.root))
            adapter = adapters(install.kind)
            found = collections.Counter(f.problem.value for r in rows if (f := adapter.check(install, r)))
            problems = [f"{n} {problem}" for problem, n in sorted(found.items())]
            if pending[str(install.root)]:
                problems.append(f"{pending[str(install.root)]} registrations wait for the app to answer")
            methods = sorted({r.kind.value if r.kind.value != "none" else r.method.value for r in rows})
            views.append(InstallView(install.kind.value, str(install.root), install.link.value, "online",
                                     len({r.model_id for r in rows}), len(rows), tuple(methods), tuple(problems)))
    return views
