"""metadata.json, the source of truth: what is written reads back the same, unknown fields
survive, and a damaged file is one MetadataError naming the file, never a traceback."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from modelshelf.config import ImportMode
from modelshelf.errors import MetadataError
from modelshelf.ingest import ImportJob
from modelshelf.library import (
    METADATA_NAME,
    SCHEMA_VERSION,
    ClassificationRecord,
    FileEntry,
    ModelMetadata,
    Source,
    read_metadata,
    write_metadata,
)
from modelshelf.shelf import Shelf

from ..models import write_safetensors


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A model folder of its own (tmp_path also holds the test's home)."""
    (tmp_path / "model").mkdir()
    return tmp_path / "model"


def sample(**changes) -> ModelMetadata:
    """Every field set to something other than its default, so a dropped field shows."""
    fields = dict(
        model_id="0123456789abcdef", model_type="lora", family="sdxl", cleaned_name="Détail tweaker",
        format="safetensors",
        files=(FileEntry("détail.safetensors", 1234, "b3" * 32, "5a" * 32),
               FileEntry("sub/readme.md", 10, "c4" * 32, "d6" * 32)),
        blake3="b3" * 32, sha256="5a" * 32, size_bytes=1244, added_at="2026-01-02T03:04:05+00:00",
        updated_at="2026-01-02T03:04:06+00:00", source=Source("/home/u/inbox/détail.safetensors", "move"),
        classification=ClassificationRecord("tensor_names", 0.9, "lora_unet_* keys"),
        primary_file="détail.safetensors", official_name="Detail Tweaker XL",
        hub={"repo_id": "someone/detail", "revision": "abc"}, pending_online_lookup=False,
        lookup_attempts=3, last_lookup_attempt="2026-01-03T00:00:00+00:00", tags=("favourite", "style"),
        details={"ss_base_model_version": "sdxl_base_v1-0"}, extra={"from_the_future": {"keep": [1, 2]}})
    fields.update(changes)
    return ModelMetadata(**fields)


def test_round_trip_keeps_every_field(folder: Path) -> None:
    meta = sample()
    path = write_metadata(folder, meta)
    assert path == folder / METADATA_NAME
    assert read_metadata(path) == meta
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["hashes"] == {"blake3": "b3" * 32, "sha256": "5a" * 32}
    assert "blake3" not in data and "extra" not in data           # the JSON shape, not the dataclass's
    assert data["from_the_future"] == {"keep": [1, 2]}
    assert "Détail tweaker" in path.read_text(encoding="utf-8")   # readable UTF-8, not \u escapes


def test_write_is_atomic_and_readable_by_everyone(folder: Path) -> None:
    old = write_metadata(folder, sample())
    alias = folder / "alias.json"
    os.link(old, alias)                       # a hard link to the old file keeps the old bytes
    before = alias.read_bytes()
    write_metadata(folder, sample(tags=("changed",)))
    assert alias.read_bytes() == before       # replaced by rename, never rewritten in place
    assert read_metadata(folder / METADATA_NAME).tags == ("changed",)
    assert stat.S_IMODE((folder / METADATA_NAME).stat().st_mode) == 0o644
    assert sorted(p.name for p in folder.iterdir()) == ["alias.json", METADATA_NAME]   # no temp left


def test_unknown_metadata_fields_survive_a_rewrite(shelf: Shelf, tmp_path: Path) -> None:
    result = shelf.importer().run(ImportJob(write_safetensors(tmp_path / "a.safetensors", "clip_l"),
                                            ImportMode.COPY))
    folder = shelf.library.root / result.path
    data = json.loads((folder / "metadata.json").read_text())
    data["from_the_future"] = {"keep": [1, 2]}
    (folder / "metadata.json").write_text(json.dumps(data))
    meta = read_metadata(folder / "metadata.json")
    write_metadata(folder, meta.replace(tags=("favourite",)))
    again = json.loads((folder / "metadata.json").read_text())
    assert again["from_the_future"] == {"keep": [1, 2]} and again["tags"] == ["favourite"]
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


def test_replace_stamps_updated_at() -> None:
    meta = sample(updated_at="2000-01-01T00:00:00+00:00")
    changed = meta.replace(tags=("x",))
    assert changed.tags == ("x",) and changed.added_at == meta.added_at
    assert changed.updated_at > "2026"         # ISO timestamps order as strings


def test_optional_fields_default_when_absent(folder: Path) -> None:
    data = sample().to_dict()
    for key in ("primary_file", "official_name", "hub", "pending_online_lookup", "lookup_attempts",
                "last_lookup_attempt", "tags", "details", "from_the_future"):
        del data[key]
    (folder / METADATA_NAME).write_text(json.dumps(data))
    meta = read_metadata(folder / METADATA_NAME)
    assert (meta.primary_file, meta.hub, meta.pending_online_lookup, meta.lookup_attempts, meta.tags,
            meta.extra) == (None, None, True, 0, (), {})


def _without(key: str) -> dict:
    data = sample().to_dict()
    del data[key]
    return data


BAD = {
    "not JSON": (b'{"schema_version": 1,', "is not valid JSON"),
    "not UTF-8": (b'{"cleaned_name": "\xff"}', "is not valid JSON"),
    "a list": (b"[1, 2]", "not a JSON object"),
    "no schema_version": (json.dumps(_without("schema_version")).encode(),
                          "schema_version None is not supported (expected 1)"),
    "a newer schema": (json.dumps(sample().to_dict() | {"schema_version": 2}).encode(),
                       "schema_version 2 is not supported (expected 1)"),
    "schema_version as text": (json.dumps(sample().to_dict() | {"schema_version": "1"}).encode(),
                               "schema_version '1' is not supported"),
    "no hashes": (json.dumps(_without("hashes")).encode(), "missing or invalid field (KeyError: 'hashes')"),
    "size not a number": (json.dumps(sample().to_dict() | {"size_bytes": "big"}).encode(),
                          "missing or invalid field (ValueError"),
    "source with an unknown key": (json.dumps(sample().to_dict() | {"source": {"path": "p", "how": "x"}}).encode(),
                                   "missing or invalid field (TypeError"),
    "no files": (json.dumps(sample().to_dict() | {"files": []}).encode(), "lists no files"),
}


@pytest.mark.bad_input
@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_metadata_json_is_one_error_naming_the_file(folder: Path, case: str) -> None:
    raw, problem = BAD[case]
    path = folder / METADATA_NAME
    path.write_bytes(raw)
    with pytest.raises(MetadataError) as caught:
        read_metadata(path)
    assert caught.value.path == path
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message


def test_an_unreadable_metadata_json_is_a_metadata_error(folder: Path) -> None:
    (folder / METADATA_NAME).mkdir()          # root reads a chmod 0 file: a folder in its place cannot be read
    with pytest.raises(MetadataError, match=r"metadata\.json: cannot be read \(Is a directory\)"):
        read_metadata(folder / METADATA_NAME)
    with pytest.raises(MetadataError, match="cannot be read"):
        read_metadata(folder / "gone" / METADATA_NAME)
