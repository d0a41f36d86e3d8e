"""What a reload (SIGHUP) can apply to a running daemon, and what waits for a restart."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..config import Config

# Settings the running daemon is built around: its open library and index, its lock files, its
# listening socket and its worker threads. A change to one of these takes effect at the restart.
RESTART_KEYS = ("paths.library", "paths.state_dir", "service.socket", "drives.workers")


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ between two configs (a whole section for
    [[apps]] and other lists)."""
    if not dataclasses.is_dataclass(old) or type(old) is not type(new):
        return [prefix.rstrip(".")] if old != new else []
    changed = []
    for f in dataclasses.fields(old):
        if f.name == "source":
            continue
        changed += changed_keys(getattr(old, f.name), getattr(new, f.name), f"{prefix}{f.name}.")
    return changed


def _set(config: Config, key: str, value: Any) -> Config:
    section, name = key.split(".")
    return dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **{name: value})})


@dataclasses.dataclass(frozen=True)
class Reload:
    config: Config                    # what the daemon runs on from now: the new file minus RESTART_KEYS
    applied: tuple[str, ...]          # changed settings applied now
    need_restart: tuple[str, ...]     # changed settings kept at their running values

    def touches(self, section: str) -> bool:
        return any(key == section or key.startswith(section + ".") for key in self.applied)


def plan_reload(running: Config, loaded: Config) -> Reload:
    changed = changed_keys(running, loaded)
    later = tuple(key for key in changed if key in RESTART_KEYS)
    config = loaded
    for key in later:
        section, name = key.split(".")
        config = _set(config, key, getattr(getattr(running, section), name))
    return Reload(config, tuple(key for key in changed if key not in later), later)
