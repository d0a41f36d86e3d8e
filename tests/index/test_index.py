from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from modelshelf.config import ImportMode
from modelshelf.errors import LibraryOfflineError
from modelshelf.index import ModelIndex, rebuild_index, scan_library
from modelshelf.ingest import ImportJob
from modelshelf.shelf import Shelf

from ..models import SAFETENSORS_KINDS, write_diffusers, write_gguf, write_safetensors


def fill(shelf: Shelf, tmp_path: Path) -> list[str]:
    importer = shelf.importer()
    sources = [write_safetensors(tmp_path / f"{k}.safetensors", k) for k in SAFETENSORS_KINDS]
    sources += [write_gguf(tmp_path / "llama.gguf", "llama", "Llama"), write_diffusers(tmp_path / "pipe")]
    return [importer.run(ImportJob(s, ImportMode.COPY)).model_id for s in sources]


def test_rebuild_equals_incremental_row_for_row(shelf: Shelf, tmp_path: Path) -> None:
    ids = fill(shelf, tmp_path)
    incremental = shelf.index.dump()
    assert len(incremental[0]) == len(ids) == len(SAFETENSORS_KINDS) + 2
    report = rebuild_index(shelf.library, shelf.index)
    assert report.warnings == ()
    assert shelf.index.dump() == incremental
    fresh = ModelIndex(tmp_path / "fresh.db")          # and from an empty database
    rebuild_index(shelf.library, fresh)
    assert fresh.dump() == incremental
    fresh.close()


@pytest.mark.bad_input(5 + (os.geteuid() != 0))   # root reads a chmod 0 file anyway
def test_scan_warns_and_carries_on(shelf: Shelf, tmp_path: Path) -> None:
    ids = fill(shelf, tmp_path)
    root = shelf.library.root
    folders = {m.model_id: root / m.path for m in shelf.index.all()}
    victims = list(folders.values())[:6]
    next(victims[0].glob("*.safetensors")).unlink()                                  # phantom
    (victims[1] / "metadata.json").write_text("{not json")                           # invalid JSON
    meta = json.loads((victims[2] / "metadata.json").read_text())
    meta["files"][0]["name"] = "../../../../etc/passwd"                               # escape
    (victims[2] / "metadata.json").write_text(json.dumps(meta))
    model = next(victims[3].glob("*.safetensors"))
    model.rename(tmp_path / "elsewhere")
    model.symlink_to(tmp_path / "elsewhere")                                          # symlink
    meta = json.loads((victims[4] / "metadata.json").read_text())
    meta["schema_version"] = 99
    (victims[4] / "metadata.json").write_text(json.dumps(meta))
    os.chmod(victims[5] / "metadata.json", 0)
    report = rebuild_index(shelf.library, shelf.index)
    assert len(report.warnings) == 5 + (os.geteuid() != 0), [str(w) for w in report.warnings]
    text = "\n".join(str(w) for w in report.warnings)
    assert "phantom" in text and "is not valid JSON" in text and "points outside" in text
    assert "not a regular file" in text and "schema_version 99 is not supported" in text
    assert shelf.index.count() == len(ids) - len(report.warnings)
    assert all(w.path.count("/") == 2 for w in report.warnings)  # each names its model folder


def test_missing_marker_refuses_rebuild_and_keeps_index(shelf: Shelf, tmp_path: Path) -> None:
    fill(shelf, tmp_path)
    count = shelf.index.count()
    (shelf.library.root / ".modelshelf-library").unlink()
    with pytest.raises(LibraryOfflineError, match="is offline"):
        rebuild_index(shelf.library, shelf.index)
    assert shelf.index.count() == count


def test_database_settings_and_migrations(tmp_path: Path) -> None:
    index = ModelIndex(tmp_path / "models.db")
    index.close()
    db = sqlite3.connect(tmp_path / "models.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [r[1] for r in db.execute("SELECT * FROM migrations")] == ["initial", "dirty", "metadata_v2"]
    indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"models_sha256", "files_blake3", "models_type_family"} <= indexes
    db.close()
    ModelIndex(tmp_path / "models.db").close()          # migrations run once


def test_scan_does_not_follow_symlinked_folders(shelf: Shelf, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write_diffusers(outside / "pipe")
    (outside / "pipe" / "metadata.json").write_text("{}")
    (shelf.library.root / "diffusers").mkdir()
    (shelf.library.root / "diffusers" / "evil").symlink_to(outside)
    report = scan_library(shelf.library)
    assert report.records == () and report.warnings == ()
