"""The merge rule, on its own and fed by real provider answers (a fake CivitAI and a fake Hub)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from modelshelf.hub import HubCache, HubClient, HubSettings
from modelshelf.hub.transport import install_strict_transport
from modelshelf.identify import (
    GoneUpstream,
    HubProvider,
    Identification,
    LookupFailed,
    Method,
    NotFound,
    ProviderMatch,
    Status,
    best_match,
    decide_family,
    record,
)
from modelshelf.identify.merge import from_dict, to_dict

from ..helpers import digests
from ..hub.fake_hub import FakeHub, FakeRepo
from ..models import write_safetensors
from .conftest import fake_meta, make_provider, meta_of
from .fake_civitai import FakeCivitai, FakeFile, FakeVersion


def civitai_match(**kw) -> ProviderMatch:
    values = dict(provider="civitai", method=Method.SHA256, confidence=1.0, ref="civitai:1@2", name="Tweaker",
                  base_model="SDXL 1.0", family="sdxl", trained_words=("tw",), record={"version_id": 2},
                  fetched_at="2026-01-01T00:00:00+00:00")
    return ProviderMatch(**{**values, **kw})


def hub_guess() -> ProviderMatch:
    return ProviderMatch("hub", Method.NAME, 0.5, "hf:someone/tweaker", "tweaker", reason="name only")


def test_a_proven_match_is_not_replaced_by_a_name_guess_an_error_or_not_found() -> None:
    proven = record(Identification(), civitai_match())
    weaker = record(proven, ProviderMatch("civitai", Method.NAME, 0.4, "civitai:9@9"))
    assert weaker.get("civitai").match == civitai_match() and "weaker" in weaker.get("civitai").note
    failed = record(proven, LookupFailed("civitai", "server error (HTTP 503)"))
    assert failed.get("civitai").match == civitai_match()
    assert (failed.get("civitai").status, failed.get("civitai").last_error) == (Status.MATCHED,
                                                                               "server error (HTTP 503)")
    gone = record(proven, NotFound("civitai", "no CivitAI version lists it", fetched_at="2026-02-01T00:00:00+00:00"))
    state = gone.get("civitai")
    assert (state.status, state.match, state.gone_since) == (Status.GONE, civitai_match(), "2026-02-01T00:00:00+00:00")
    later = record(gone, NotFound("civitai", fetched_at="2026-03-01T00:00:00+00:00"))
    assert later.get("civitai").gone_since == "2026-02-01T00:00:00+00:00"       # since the first time
    back = record(later, civitai_match(ref="civitai:1@3"))
    assert (back.get("civitai").status, back.get("civitai").match.ref) == (Status.MATCHED, "civitai:1@3")


def test_a_name_guess_is_replaced_by_not_found_and_an_explicit_gone_keeps_it() -> None:
    guessed = record(Identification(), hub_guess())
    assert record(guessed, NotFound("hub")).get("hub").status is Status.NOT_FOUND
    assert record(guessed, NotFound("hub")).get("hub").match is None
    gone = record(guessed, GoneUpstream("hub", "repo deleted"))
    assert (gone.get("hub").status, gone.get("hub").match) == (Status.GONE, hub_guess())
    assert record(Identification(), LookupFailed("hub", "offline")).get("hub").status is Status.FAILED


def test_the_proven_match_wins_and_the_other_source_is_recorded() -> None:
    both = record(record(Identification(), hub_guess()), civitai_match())
    assert best_match(both, order=["hub", "civitai"]).provider == "civitai"       # proven beats the order
    assert {p.provider: p.match.method for p in both.providers} == {"civitai": Method.SHA256, "hub": Method.NAME}
    hub_proven = ProviderMatch("hub", Method.SHA256, 1.0, "hf:org/repo")
    two = record(both, hub_proven)
    assert best_match(two, order=["hub", "civitai"]).provider == "hub"            # then the configured order
    assert best_match(two, order=["civitai", "hub"]).provider == "civitai"
    gone_civitai = record(two, NotFound("civitai"))
    assert best_match(gone_civitai, order=["civitai", "hub"]).provider == "hub"   # live before gone


def test_family_is_filled_confirmed_or_a_conflict_is_recorded() -> None:
    ident = record(Identification(), civitai_match())
    assert decide_family("unknown", ident).__dict__ == {"family": "sdxl", "source": "civitai", "conflict": None}
    assert decide_family("sdxl", ident).source == "local+civitai"
    conflict = decide_family("sd15", ident)
    assert (conflict.family, conflict.source) == ("sd15", "local")                # never overwritten silently
    assert conflict.conflict == "civitai says sdxl (base model SDXL 1.0)"
    guess_only = record(Identification(), ProviderMatch("civitai", Method.NAME, 0.3, "x", family="flux"))
    assert decide_family("unknown", guess_only).family == "unknown"              # a guess never fills it


def test_identification_round_trips_through_json() -> None:
    ident = record(record(record(Identification(), hub_guess()), civitai_match()), NotFound("civitai"))
    again = from_dict(json.loads(json.dumps(to_dict(ident))))
    assert again == ident
    with pytest.raises((ValueError, KeyError)):
        from_dict({"civitai": {"status": "maybe", "checked_at": "x"}})


# -- with real answers ----------------------------------------------------------------------------
@pytest.fixture
def hub():
    fake = FakeHub()
    yield fake
    fake.stop()


def test_both_providers_answering_the_proven_match_wins(civitai: FakeCivitai, hub: FakeHub, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl")
    meta = meta_of(src, family="unknown")
    _, sha = digests(src)
    civitai.add(FakeVersion(34, 12, "Detail Tweaker XL", "v1.0", [FakeFile(src.name, src.stat().st_size, sha)]))
    hub.add(FakeRepo("someone/detail-tweaker-xl", {"detail-tweaker-xl.safetensors": (123, "f" * 64)}))  # other bytes
    settings = HubSettings(endpoint=hub.endpoint, timeout=2.0, max_wait=0.0)
    install_strict_transport(settings.timeout)
    hub_provider = HubProvider(HubClient(settings, HubCache(tmp_path / f"h{random.random()}.db", 60, 60)))
    ident = Identification()
    for provider in (hub_provider, make_provider(tmp_path)):
        ident = record(ident, provider.lookup([meta])[meta.model_id])
    assert ident.get("hub").match.method is Method.NAME                        # the Hub's guess is recorded
    assert best_match(ident, order=["hub", "civitai"]).ref == "civitai:12@34"
    assert decide_family(meta.family, ident).__dict__ == {"family": "sdxl", "source": "civitai", "conflict": None}


def test_a_model_deleted_upstream_keeps_its_metadata(civitai: FakeCivitai, tmp_path: Path) -> None:
    meta = fake_meta(1)
    f = meta.files[0]
    civitai.add(FakeVersion(34, 12, "Soon Gone", "v1", [FakeFile(f.name, f.size, f.sha256)]))
    provider = make_provider(tmp_path, cache_ttl=0.0, negative_ttl=0.0)       # every lookup asks again
    ident = record(Identification(), provider.lookup([meta])[meta.model_id])
    civitai.versions[34].published = False                                    # unpublished on CivitAI
    answer = provider.lookup([meta])[meta.model_id]
    assert isinstance(answer, NotFound)
    ident = record(ident, answer)
    state = ident.get("civitai")
    assert state.status is Status.GONE and state.gone_since == answer.fetched_at
    assert (state.match.name, state.match.record["version_id"]) == ("Soon Gone", 34)
    assert best_match(ident).name == "Soon Gone"
    assert provider.client.model(12) is None                                  # the model's own record is gone too
