"""Identifying models with several providers (the Hub, CivitAI) behind one interface, and the
rule that merges what they say (merge.py)."""

from ..config import NsfwChoice
from .civitai import CivitaiClient, CivitaiProvider, CivitaiSettings, build_civitai, civitai_settings
from .errors import PreviewRejectedError, ProviderAnswerError, ProviderUnavailableError
from .hub_provider import HubProvider
from .merge import FamilyDecision, Identification, ProviderState, Status, best_match, decide_family, record
from .previews import PreviewDownloader, choose_preview, save_preview
from .provider import Answer, GoneUpstream, LookupFailed, Method, NotFound, Provider, ProviderMatch

__all__ = ["Answer", "CivitaiClient", "CivitaiProvider", "CivitaiSettings", "FamilyDecision", "GoneUpstream",
           "HubProvider", "Identification", "LookupFailed", "Method", "NotFound", "NsfwChoice", "PreviewDownloader",
           "PreviewRejectedError", "Provider", "ProviderAnswerError", "ProviderMatch", "ProviderState",
           "ProviderUnavailableError", "Status", "best_match", "build_civitai", "choose_preview", "civitai_settings",
           "decide_family", "record", "save_preview"]
