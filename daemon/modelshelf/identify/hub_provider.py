"""The Hugging Face Hub behind the provider interface: the existing name search verified by
SHA-256 (hub/identify.py), one model at a time (the Hub has no search by hash)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..errors import HubUnavailableError
from ..hub.client import HubClient
from ..hub.identify import HubMatch, identify
from ..library.metadata import ModelMetadata
from .provider import Answer, ClientBacked, LookupFailed, NotFound, ProviderMatch
from .view import match_from_hub_record

PROVIDER = "hub"


def hub_match(match: HubMatch) -> ProviderMatch:
    return match_from_hub_record(dataclasses.asdict(match))


class HubProvider(ClientBacked):
    name = PROVIDER

    def __init__(self, client: HubClient) -> None:
        self.client = client

    def close(self) -> None:
        self.client.cache.close()

    def lookup(self, models: Sequence[ModelMetadata]) -> dict[str, Answer]:
        answers: dict[str, Answer] = {}
        for meta in models:
            try:
                match = identify(meta, self.client)
            except HubUnavailableError as e:
                answers[meta.model_id] = LookupFailed(PROVIDER, e.reason)
                continue
            answers[meta.model_id] = (NotFound(PROVIDER, "no repo has a file like this") if match is None
                                      else hub_match(match))
        return answers
