"""The package's imports run one way: each module imports only from layers below its own, so a
newcomer can read it bottom-up and no part depends on the daemon that wires it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "daemon" / "modelshelf"

# Bottom to top. A top-level module or subpackage may import only from lower rows; a name missing
# here fails the test, so a new part is placed deliberately.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("units",),
    ("errors",),
    ("fs", "sqlite"),
    ("config",),
    ("library", "classify"),
    ("index", "apps"),          # apps: one adapter per app kind; links/ drives them, never the reverse
    ("ingest", "drives"),
    ("inbox",),
    ("hub", "links"),
    ("identify", "adopt"),      # adopt: app installs into the library, through links/ and apps/

    ("shelf", "verify"),
    ("actions",),
    ("service",),
    ("cli",),
    ("__main__", "__init__"),
)
RANK = {name: i for i, row in enumerate(LAYERS) for name in row}


def _part(module: Path) -> str:
    rel = module.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_parts(module: Path) -> set[str]:
    """The package parts a module imports, from its relative imports (the package never imports
    itself by its absolute name)."""
    here = module.relative_to(PACKAGE).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(module.read_text(), str(module))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[:len(here) - (node.level - 1)]
            target = [*base, *(node.module.split(".") if node.module else [])]
            found |= {target[0]} if target else {alias.name for alias in node.names}
    return found


def test_every_part_has_a_layer() -> None:
    parts = {_part(m) for m in PACKAGE.rglob("*.py")}
    assert parts - RANK.keys() == set(), "add the new part to LAYERS in tests/test_layers.py"


def test_no_module_imports_upward() -> None:
    upward = []
    for module in sorted(PACKAGE.rglob("*.py")):
        part = _part(module)
        for target in _imported_parts(module) - {part}:
            if RANK.get(target, -1) >= RANK.get(part, len(LAYERS)):
                upward.append(f"{module.relative_to(PACKAGE)} imports {target}")
    assert upward == []
