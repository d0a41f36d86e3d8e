"""registry.db written before app kinds existed migrates in place; [[apps]] kinds and roots."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from modelshelf.apps import AppKind, LinkKind, LinkRecord, PlacementMethod
from modelshelf.config import config_from_dict
from modelshelf.errors import ConfigError
from modelshelf.links import LinkRegistry

OLD_SCHEMA = """
CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO migrations VALUES (1, 'initial', '2026-01-01T00:00:00+00:00');
CREATE TABLE installs (root TEXT PRIMARY KEY, mount_point TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE TABLE links (install TEXT NOT NULL, target TEXT NOT NULL, model_id TEXT NOT NULL, source TEXT NOT NULL,
    kind TEXT NOT NULL, external INTEGER NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (install, target));
CREATE INDEX links_model ON links(model_id);
INSERT INTO installs VALUES ('/home/u/ComfyUI', '/', '2026-01-01T00:00:00+00:00');
INSERT INTO links VALUES ('/home/u/ComfyUI', 'models/loras/a.safetensors', 'm1', 'lora/x/a/a.safetensors',
    'relative_symlink', 0, '2026-01-01T00:00:00+00:00');
"""


def test_an_old_registry_migrates_keeping_its_links(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
    registry = LinkRegistry(path)
    try:
        [row] = registry.all()
        assert row == LinkRecord("/home/u/ComfyUI", "models/loras/a.safetensors", "m1", "lora/x/a/a.safetensors",
                                 LinkKind.RELATIVE, False, PlacementMethod.LINK, None)
        assert registry.known_installs()["/home/u/ComfyUI"].kind is AppKind.COMFYUI
        # the new columns hold every kind of entry: an API registration with the app's key
        api = LinkRecord("/home/u/invokeai", "api:m1", "m1", "lora/x/a/a.safetensors", LinkKind.NONE, False,
                         PlacementMethod.API, "7d2f-key")
        registry.add_pending("/home/u/invokeai", "m1", "InvokeAI does not answer")
        registry.add(api)
        assert registry.get("/home/u/invokeai", "api:m1") == api
        assert registry.pending() == []                       # registered: no longer waiting
    finally:
        registry.close()
    again = LinkRegistry(path)                                # reopening does not migrate twice
    try:
        assert len(again.all()) == 2
    finally:
        again.close()


def test_every_kind_is_a_config_kind_and_an_unknown_one_lists_them() -> None:
    with pytest.raises(ConfigError) as e:
        config_from_dict({"apps": [{"kind": "automatic", "root": "/x"}]})
    for kind in AppKind:
        assert kind.value in str(e.value)
    assert [a.kind for a in config_from_dict({"apps": [{"kind": k.value, "root": "/x", "mapping": {"lora": ["L"]}}
                                                        for k in AppKind]}).apps] == list(AppKind)


def test_default_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    apps = config_from_dict({"apps": [{"kind": "lmstudio"}, {"kind": "ollama"}]}).apps
    assert [a.root for a in apps] == ["~/.lmstudio/models", "~/.ollama/models"]
    monkeypatch.setenv("OLLAMA_MODELS", "/srv/ollama")
    assert config_from_dict({"apps": [{"kind": "ollama"}]}).apps[0].root == "/srv/ollama"
    with pytest.raises(ConfigError, match="root"):
        config_from_dict({"apps": [{"kind": "a1111"}]})
    with pytest.raises(ConfigError, match="mapping"):
        config_from_dict({"apps": [{"kind": "folders", "root": "/x"}]})
