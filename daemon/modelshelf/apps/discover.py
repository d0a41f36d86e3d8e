"""Installs on this machine: the configured ones (by each kind's adapter) and, for
`modelshelf apps discover`, the usual places each app is installed, told apart by its own marker
files. `--add` writes what was found into the config file atomically, keeping the user's comments
and layout (tomlkit), and only after the new file passes the same check the daemon makes."""

from __future__ import annotations

import glob
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Array

from ..config import AppConfig, config_from_dict
from ..errors import ConfigError
from ..fs.durable import atomic_write_bytes
from . import build_adapter
from .base import AdapterEnv, AppInstall, AppKind


def _finder_env() -> AdapterEnv:
    # find_installs only reads the app's folders: it never uses the library or the link maker.
    return AdapterEnv(Path("/"), None)  # type: ignore[arg-type]


def configured_installs(apps: tuple[AppConfig, ...]) -> list[AppInstall]:
    """Every configured install that exists now, recognised by its kind's adapter."""
    env = _finder_env()
    return [i for app in apps for i in build_adapter(app.kind, env).find_installs(app)]


# (kind, files that must all be there), tried in order: Forge and SD.Next also have A1111's
# webui.py + modules/, so they come first. From each app's repository tree.
SIGNATURES: tuple[tuple[AppKind, tuple[str, ...]], ...] = (
    (AppKind.FORGE, ("webui.py", "modules_forge")),
    (AppKind.SDNEXT, ("webui.py", "installer.py", "modules")),
    (AppKind.A1111, ("webui.py", "modules")),
    (AppKind.SWARMUI, ("launchtools",)),
    (AppKind.SWARMUI, ("src/SwarmUI.csproj",)),
    (AppKind.FOOOCUS, ("fooocus_version.py",)),
    (AppKind.TEXTGEN, ("server.py", "modules", "one_click.py")),
    (AppKind.TEXTGEN, ("server.py", "modules", "download-model.py")),
    (AppKind.INVOKEAI, ("invokeai.yaml",)),
    (AppKind.COMFYUI, ("main.py", "comfy", "models")),
    (AppKind.COMFYUI, ("main.py", "folder_paths.py", "models")),
)
# Where people install the image apps and text-generation-webui, under the home folder.
APP_GLOBS = ("ComfyUI", "comfyui*", "ComfyUI*", "stable-diffusion-webui*", "*[Ff]orge*", "automatic", "sdnext",
             "SD.Next", "SwarmUI", "Fooocus", "invokeai", "InvokeAI", "text-generation-webui*")


@dataclass(frozen=True)
class FoundInstall:
    kind: AppKind
    root: Path             # what `root =` names: the install, or the models folder of LM Studio / Ollama
    evidence: str          # the marker that told it apart
    configured: bool = False

    def config_root(self, home: Path) -> str:
        return f"~/{self.root.relative_to(home)}" if self.root.is_relative_to(home) else str(self.root)

    def snippet(self, home: Path) -> str:
        return f'[[apps]]\nkind = "{self.kind.value}"\nroot = "{self.config_root(home)}"\n'


def identify(folder: Path) -> tuple[AppKind, str] | None:
    """The app a folder holds, by its marker files, or None."""
    for kind, markers in SIGNATURES:
        if all(os.path.lexists(folder / m) for m in markers):
            return kind, " + ".join(markers)
    return None


def _image_apps(home: Path) -> list[FoundInstall]:
    found: dict[Path, FoundInstall] = {}
    for pattern in APP_GLOBS:
        for path in sorted(Path(p) for p in glob.glob(str(home / pattern))):
            if not path.is_dir():
                continue
            # the folder itself, else one level down (~/comfyui-versions/v0.3.40, portable builds)
            for candidate in [path, *sorted(c for c in path.iterdir() if c.is_dir())]:
                hit = identify(candidate)
                if hit and candidate not in found:
                    found[candidate] = FoundInstall(hit[0], candidate, hit[1])
                if hit and candidate == path:
                    break
    return list(found.values())


def _llm_runtimes(home: Path, environ: Mapping[str, str]) -> list[FoundInstall]:
    found = []
    if (home / ".lmstudio").is_dir():              # LM Studio 0.3+; its models folder may not exist yet
        found.append(FoundInstall(AppKind.LMSTUDIO, home / ".lmstudio" / "models", "~/.lmstudio"))
    elif (home / ".cache" / "lm-studio" / "models").is_dir():       # before 0.3
        found.append(FoundInstall(AppKind.LMSTUDIO, home / ".cache" / "lm-studio" / "models", "~/.cache/lm-studio"))
    ollama = Path(environ["OLLAMA_MODELS"]) if environ.get("OLLAMA_MODELS") else home / ".ollama" / "models"
    if (ollama / "manifests").is_dir() or (ollama / "blobs").is_dir():
        found.append(FoundInstall(AppKind.OLLAMA, ollama, "manifests/ + blobs/"))
    return found


def discover(apps: tuple[AppConfig, ...], home: Path | None = None,
             environ: Mapping[str, str] | None = None) -> list[FoundInstall]:
    """Installs in the usual places, each marked configured when a configured root names it."""
    home = home or Path.home()
    environ = os.environ if environ is None else environ
    configured = {os.path.realpath(r) for app in apps for r in app.roots()}
    found = _image_apps(home) + _llm_runtimes(home, environ)
    return [FoundInstall(f.kind, f.root, f.evidence, os.path.realpath(f.root) in configured) for f in found]


def add_to_config(path: Path, found: list[FoundInstall], home: Path | None = None) -> int:
    """Append an [[apps]] table per install not yet configured; comments and layout kept. The new
    text is checked like any config before it replaces the file (temp, fsync, rename)."""
    home = home or Path.home()
    new = [f for f in found if not f.configured]
    if not new:
        return 0
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        doc = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError(path, "file", f"is not valid TOML ({e})",
                          "fix the syntax, then run discover --add again") from None
    apps = doc.get("apps")
    if apps is None:
        apps = tomlkit.aot()
        doc.append("apps", apps)
    for f in new:
        table = {"kind": f.kind.value, "root": f.config_root(home)}
        if isinstance(apps, AoT):
            apps.append(_table(table))
        elif isinstance(apps, Array):
            apps.append(_inline(table))
        else:
            raise ConfigError(path, "apps", "is not a list of tables", "write each app as [[apps]]")
    rendered = tomlkit.dumps(doc)
    config_from_dict(tomllib.loads(rendered), path)          # never write a config the daemon would refuse
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    atomic_write_bytes(path, rendered.encode("utf-8"), mode)
    return len(new)


def _table(values: dict[str, str]) -> tomlkit.items.Table:
    table = tomlkit.table()
    table.trivia.indent = "\n"            # a blank line before each added [[apps]], like the example config
    for k, v in values.items():
        table.add(k, v)
    return table


def _inline(values: dict[str, str]) -> tomlkit.items.InlineTable:
    table = tomlkit.inline_table()
    for k, v in values.items():
        table.append(k, v)
    return table
