"""The [identify] and [civitai] config sections, and the shared 429 backoff's sequence."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.config import ConfigError, NsfwChoice, ProviderName, config_from_dict, load_config
from modelshelf.identify.backoff import SharedBackoff


def test_defaults_and_the_example_config_agree() -> None:
    example = load_config(Path(__file__).parents[2] / "config.example.toml")
    defaults = config_from_dict({})
    assert example.identify == defaults.identify and example.civitai == defaults.civitai
    assert defaults.identify.providers == (ProviderName.CIVITAI, ProviderName.HUB)
    assert defaults.civitai.nsfw is NsfwChoice.HIDE and defaults.civitai.endpoint == ""


@pytest.mark.bad_input(5)
@pytest.mark.parametrize("raw, message", [
    ({"identify": {"providers": ["hub", "hub"]}}, "[identify] providers: lists hub twice; name each provider once"),
    ({"identify": {"providers": ["civit"]}}, "[identify] providers: 'civit' is not allowed; use one of civitai, hub"),
    ({"civitai": {"endpoint": "civitai.com"}}, "[civitai] endpoint: 'civitai.com' is not an http(s) URL"),
    ({"civitai": {"nsfw": "yes"}}, "[civitai] nsfw: 'yes' is not allowed; use one of hide, show"),
    ({"civitai": {"api_key": "x"}}, "civitai.api_key: unknown key"),     # the key lives in the environment
])
def test_bad_values_are_one_clear_error(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config_from_dict(raw, Path("/etc/modelshelf.toml"))
    assert str(e.value).startswith("/etc/modelshelf.toml: ") and message in str(e.value)


def test_backoff_doubles_from_1_to_30_seconds_and_resets() -> None:
    backoff = SharedBackoff()
    assert [backoff.next_delay() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.reset()
    assert backoff.next_delay() == 1.0
