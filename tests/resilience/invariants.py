"""What must hold after any crash: nothing dropped is lost, nothing partial is kept or indexed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from modelshelf.index import ModelIndex
from modelshelf.links import LinkRegistry

from ..helpers import sha256


@dataclass(frozen=True)
class Dropped:
    name: str                 # top-level name in the inbox
    inbox: Path
    files: dict[str, str]     # relative file -> sha256 (one entry for a single file)


def find_problems(dropped: list[Dropped], library: Path, state: Path) -> list[str]:
    """Every broken promise, as readable lines (empty: all is well)."""
    problems: list[str] = []
    index = ModelIndex(state / "models.db")
    registry = LinkRegistry(state / "registry.db")
    try:
        stored = {row[0] for row in index.query("SELECT sha256 FROM files")}
        for d in dropped:
            problems += _accounted(d, stored)
        for m in index.all():
            for f in index.files(m.model_id):
                path = library / m.path / f.name
                if not path.is_file() or path.stat().st_size != f.size:
                    problems.append(f"indexed {m.path}/{f.name} is missing or has the wrong size")
        for r in registry.all():
            if os.path.lexists(r.target_path) and not os.path.exists(r.target_path):
                problems.append(f"link {r.target_path} points at nothing")
    finally:
        index.close()
        registry.close()
    return problems


def _accounted(d: Dropped, stored: set[str]) -> list[str]:
    """In the inbox unchanged, in failed/, or every file in the library with its hash."""
    where = [d.inbox / d.name, d.inbox / "failed" / d.name]
    for place in where:
        if place.exists() and _same(place, d):
            return []
    if all(h in stored for h in d.files.values()):
        return []
    partial = [p for p in where if p.exists()]
    return [f"dropped {d.name} is lost" + (f" (a changed copy is at {partial[0]})" if partial else "")]


def _same(place: Path, d: Dropped) -> bool:
    if place.is_dir():
        return all((place / rel).is_file() and sha256(place / rel) == h for rel, h in d.files.items())
    return sha256(place) == next(iter(d.files.values()))


def staging_leftovers(library: Path) -> list[str]:
    staging = library / ".modelshelf-tmp"
    leftovers = [str(p) for p in staging.rglob("*")] if staging.exists() else []
    leftovers += [str(p) for p in library.rglob("*.tmp") if ".modelshelf-tmp" not in p.parts]
    return leftovers
