"""Building the providers and the lookup worker from the config (for the daemon and the CLI)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import Config, ProviderName
from ..hub.wiring import build_hub_client
from ..index import ModelIndex
from ..index.writer import LibraryWriter
from .civitai import CivitaiProvider, build_civitai
from .hub_provider import HubProvider
from .previews import PreviewDownloader, PreviewSaver
from .provider import Provider
from .worker import LookupWorker


def chosen_models(index: ModelIndex, queries: Sequence[str], every: bool = False) -> list[str]:
    """The models `identify` asks about: those named (ids, names, hash prefixes such as AutoV2),
    else every model with every, else the pending ones."""
    if queries:
        return [index.resolve(q).model_id for q in queries]
    return [m.model_id for m in index.all()] if every else index.pending_ids()


def build_providers(config: Config) -> list[Provider]:
    """The configured providers, in the configured order."""
    made: list[Provider] = []
    for name in config.identify.providers:
        made.append(build_civitai(config) if name is ProviderName.CIVITAI else HubProvider(build_hub_client(config)))
    return made


def build_lookup_worker(config: Config, writer: LibraryWriter,
                        on_preview: Callable[[str], None] | None = None) -> LookupWorker:
    providers = build_providers(config)
    civitai = next((p for p in providers if isinstance(p, CivitaiProvider)), None)
    previews = None
    if civitai is not None and config.civitai.previews:
        settings = civitai.client.settings
        previews = PreviewSaver(writer, PreviewDownloader(settings.timeout * 3, offline=settings.offline),
                                settings.preview_max_level, config.civitai.preview_max_mib << 20)
    return LookupWorker(providers, writer, previews, on_preview)
