"""Configuration: one TOML file, read once into frozen dataclasses.

Every key has an embedded default (XDG folders), so no file is needed. A wrong key or value is a
ConfigError naming the file, the key and the fix. config.example.toml documents every key.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import glob
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .fs.paths import real_within


class ImportMode(enum.StrEnum):
    COPY = "copy"
    MOVE = "move"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    return Path(value) if os.path.isabs(value) else Path.home() / fallback


def default_data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "modelshelf"


def default_state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "modelshelf"


def default_config_path() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "modelshelf" / "config.toml"


def _range(low: float, high: float) -> dict[str, Any]:
    return {"range": (low, high)}


@dataclass(frozen=True)
class PathsConfig:
    library: Path = field(default_factory=lambda: default_data_dir() / "library")
    inboxes: tuple[Path, ...] = field(default_factory=lambda: (default_data_dir() / "inbox",))
    state_dir: Path = field(default_factory=default_state_dir)


@dataclass(frozen=True)
class ImportConfig:
    mode: ImportMode = ImportMode.COPY
    buffer_mib: int = field(default=8, metadata=_range(1, 256))
    buffers: int = field(default=4, metadata=_range(2, 64))
    direct_io: bool = True
    reflink: bool = True
    reserve_mib: int = field(default=256, metadata=_range(0, 1 << 20))
    checkpoint_every: int = field(default=5, metadata=_range(1, 10_000))


class Polling(enum.StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


DEFAULT_IGNORE = ("*.tmp", "*.part", "*.crdownload", "*.partial", "*.download", "*.aria2",
                  "*.incomplete", ".*", "@eaDir", ".Trash*", "*.error.txt")


@dataclass(frozen=True)
class InboxConfig:
    quiet_seconds: float = field(default=3.0, metadata=_range(0.1, 3600))
    rescan_seconds: float = field(default=300.0, metadata=_range(1, 86400))
    incomplete_seconds: float = field(default=600.0, metadata=_range(1, 7 * 86400))
    ignore: tuple[str, ...] = DEFAULT_IGNORE
    polling: Polling = Polling.AUTO


@dataclass(frozen=True)
class DrivesConfig:
    ssd: tuple[Path, ...] = ()
    hdd: tuple[Path, ...] = ()
    workers: int = field(default=4, metadata=_range(1, 64))


def default_socket_path() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        return Path(runtime) / "modelshelf" / "status.sock"
    return default_state_dir() / "status.sock"


@dataclass(frozen=True)
class ServiceConfig:
    socket: Path = field(default_factory=default_socket_path)
    drain_seconds: float = field(default=30.0, metadata=_range(0, 3600))
    status_interval: float = field(default=1.0, metadata=_range(0.1, 60))


@dataclass(frozen=True)
class HubConfig:
    enabled: bool = True
    endpoint: str = ""              # empty: $HF_ENDPOINT, else https://huggingface.co
    offline: bool = False           # also set by HF_HUB_OFFLINE=1
    calls_per_minute: int = field(default=60, metadata=_range(1, 10_000))
    timeout_seconds: float = field(default=10.0, metadata=_range(0.1, 300))
    cache_hours: float = field(default=24.0, metadata=_range(0, 24 * 365))
    negative_cache_hours: float = field(default=1.0, metadata=_range(0, 24 * 365))
    retry_minutes: float = field(default=30.0, metadata=_range(1, 7 * 24 * 60))
    breaker_failures: int = field(default=5, metadata=_range(1, 1000))
    breaker_minutes: float = field(default=5.0, metadata=_range(0.1, 24 * 60))


class NsfwChoice(enum.StrEnum):
    """CivitAI serves safe-for-work content on civitai.com and mature content on civitai.red."""
    HIDE = "hide"        # ask civitai.com; save PG/PG-13 previews only
    SHOW = "show"        # ask civitai.red; save any preview


@dataclass(frozen=True)
class CivitaiConfig:
    enabled: bool = True
    endpoint: str = ""              # empty: $MODELSHELF_CIVITAI_ENDPOINT, else the domain `nsfw` picks
    nsfw: NsfwChoice = NsfwChoice.HIDE
    offline: bool = False           # also set by HF_HUB_OFFLINE=1
    calls_per_minute: int = field(default=60, metadata=_range(1, 10_000))
    timeout_seconds: float = field(default=10.0, metadata=_range(0.1, 300))
    cache_hours: float = field(default=168.0, metadata=_range(0, 24 * 365))
    negative_cache_hours: float = field(default=24.0, metadata=_range(0, 24 * 365))
    breaker_failures: int = field(default=5, metadata=_range(1, 1000))
    breaker_minutes: float = field(default=5.0, metadata=_range(0.1, 24 * 60))
    previews: bool = True
    preview_max_mib: int = field(default=16, metadata=_range(1, 256))


class ProviderName(enum.StrEnum):
    CIVITAI = "civitai"
    HUB = "hub"


@dataclass(frozen=True)
class IdentifyConfig:
    providers: tuple[ProviderName, ...] = (ProviderName.CIVITAI, ProviderName.HUB)   # asked in this order


class AppKind(enum.StrEnum):
    COMFYUI = "comfyui"


class LinkPolicy(enum.StrEnum):
    AUTO = "auto"            # relative symlink on one filesystem, absolute across, hardlink on NTFS
    RELATIVE = "relative"
    ABSOLUTE = "absolute"
    HARDLINK = "hardlink"


@dataclass(frozen=True)
class AppConfig:
    root: str = ""                                  # a folder or a glob: "~/comfyui-versions/*"
    kind: AppKind = AppKind.COMFYUI
    link: LinkPolicy = LinkPolicy.AUTO
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)   # model_type -> folders

    @property
    def pattern(self) -> str:
        return os.path.expandvars(os.path.expanduser(self.root))

    def roots(self) -> list[Path]:
        """The folders the root names now (a glob matches those that exist)."""
        pattern = self.pattern
        return [Path(p) for p in sorted(glob.glob(pattern))] if glob.has_magic(pattern) else [Path(pattern)]


@dataclass(frozen=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    imports: ImportConfig = field(default_factory=ImportConfig)
    inbox: InboxConfig = field(default_factory=InboxConfig)
    drives: DrivesConfig = field(default_factory=DrivesConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    civitai: CivitaiConfig = field(default_factory=CivitaiConfig)
    identify: IdentifyConfig = field(default_factory=IdentifyConfig)
    apps: tuple[AppConfig, ...] = ()
    source: Path | None = None

    @property
    def index_path(self) -> Path:
        return self.paths.state_dir / "models.db"


# TOML section name -> Config attribute ("import" is a Python keyword).
_SECTIONS = {"paths": "paths", "import": "imports", "inbox": "inbox", "drives": "drives",
             "service": "service", "hub": "hub", "civitai": "civitai", "identify": "identify"}


def load_config(path: Path | None = None) -> Config:
    """Load path, else $MODELSHELF_CONFIG, else the XDG config file if it exists, else defaults."""
    explicit = path or (Path(os.environ["MODELSHELF_CONFIG"])
                        if os.environ.get("MODELSHELF_CONFIG") else None)
    path = explicit or default_config_path()
    if not path.exists():
        if explicit:
            raise ConfigError(path, "file", "does not exist", "create it from config.example.toml")
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, "file", f"cannot be read ({e})", "check its permissions") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "file", f"is not valid TOML ({e})", "fix the syntax") from e
    return config_from_dict(raw, path)


def config_from_dict(raw: dict[str, Any], path: Path | None = None) -> Config:
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "apps":
            sections["apps"] = _build_apps(value, path)
            continue
        attr = _SECTIONS.get(name)
        if attr is None:
            raise _unknown(path, name, {**_SECTIONS, "apps": "apps"})
        if not isinstance(value, dict):
            raise ConfigError(path, name, "must be a table", f"write it as [{name}]")
        section_type = _field_types(Config)[attr]
        sections[attr] = _build_section(section_type, value, name, path)
    config = Config(**sections, source=path)
    _check_overlaps(config, path)
    _check_identify(config, path)
    return config


def _check_overlaps(config: Config, path: Path | None) -> None:
    """An inbox inside the library or an app (or the other way round) would import itself."""
    app_roots = [root for app in config.apps for root in app.roots()]
    for inbox in config.paths.inboxes:
        if real_within(inbox, config.paths.library) or real_within(config.paths.library, inbox):
            raise ConfigError(path, "[paths] inboxes", f"{inbox} overlaps the library {config.paths.library}",
                              "keep inboxes and the library apart")
        for root in app_roots:
            if real_within(inbox, root) or real_within(root, inbox):
                raise ConfigError(path, "[paths] inboxes", f"{inbox} overlaps the app folder {root}",
                                  "keep inboxes out of app installs")


def _check_identify(config: Config, path: Path | None) -> None:
    providers = config.identify.providers
    twice = sorted({p for p in providers if providers.count(p) > 1})
    if twice:
        raise ConfigError(path, "[identify] providers", f"lists {', '.join(twice)} twice", "name each provider once")
    endpoint = config.civitai.endpoint
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise ConfigError(path, "[civitai] endpoint", f"{endpoint!r} is not an http(s) URL",
                          'write "https://civitai.com", or leave it empty to pick by nsfw')


def _build_apps(value: Any, path: Path | None) -> tuple[AppConfig, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(path, "apps", "must be a list of tables", 'write each app as [[apps]] with root = "..."')
    apps = tuple(_build_section(AppConfig, v, f"apps.{i}", path) for i, v in enumerate(value))
    for i, app in enumerate(apps):
        if not app.root:
            raise ConfigError(path, f"[[apps]] #{i + 1} root", "is missing", 'add root = "~/ComfyUI" (globs allowed)')
    return apps


def _build_section(cls: type, values: dict[str, Any], section: str, path: Path | None) -> Any:
    types = _field_types(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise _unknown(path, f"{section}.{key}", {f"{section}.{k}": k for k in fields})
        where = f"[{section}] {key}"
        kwargs[key] = _convert(value, types[key], where, path, fields[key].metadata, path)
    return cls(**kwargs)


def _convert(value: Any, kind: Any, where: str, path: Path | None, meta: Any,
             base: Path | None) -> Any:
    origin = typing.get_origin(kind)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, where, f"must be a table, got {value!r}", 'write { lora = ["loras"] }')
        item = typing.get_args(kind)[1]
        return {str(k): _convert(v, item, f"{where}.{k}", path, meta, base) for k, v in value.items()}
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(path, where, f"must be a list, got {value!r}", 'write ["...", "..."]')
        item = typing.get_args(kind)[0]
        return tuple(_convert(v, item, where, path, meta, base) for v in value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, where, f"must be true or false, got {value!r}", "use true or false")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(path, where, f"must be a number, got {value!r}", "write a number without quotes")
        low, high = meta.get("range", (None, None))
        if low is not None and not low <= value <= high:
            raise ConfigError(path, where, f"{value} is out of range", f"use a value from {low} to {high}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(path, where, f"must be a non-empty string, got {value!r}", 'write it in "quotes"')
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, where, f"must be a whole number, got {value!r}", "write a number without quotes")
        low, high = meta.get("range", (None, None))
        if low is not None and not low <= value <= high:
            raise ConfigError(path, where, f"{value} is out of range", f"use a value from {low} to {high}")
        return value
    if kind is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(path, where, f"must be a path, got {value!r}", 'write it as "~/models/library"')
        p = Path(os.path.expandvars(value)).expanduser()
        return p if p.is_absolute() or base is None else (base.parent / p)
    if isinstance(kind, type) and issubclass(kind, enum.StrEnum):
        allowed = [m.value for m in kind]
        if value not in allowed:
            raise ConfigError(path, where, f"{value!r} is not allowed", f"use one of {', '.join(allowed)}")
        return kind(value)
    raise TypeError(f"config type {kind} is not supported")  # a bug in this module, not in the file


def _unknown(path: Path | None, key: str, known: dict[str, str]) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    fix = f"did you mean {close[0]}?" if close else "see config.example.toml for every key"
    return ConfigError(path, key, "unknown key", fix)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
