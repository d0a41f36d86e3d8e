"""Start-up recovery, one journal phase at a time: the state a crash leaves at each step of an
adoption, then a writer opens the library. The app's path reads the same bytes throughout."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from modelshelf.adopt.journal import AdoptJournal, Entry, Phase
from modelshelf.adopt.swap import temp_name
from modelshelf.apps import AppKind, LinkKind, PlacementMethod
from modelshelf.apps.filelinks import make_link
from modelshelf.config import ImportMode
from modelshelf.ingest import ImportJob
from modelshelf.ingest.retire import file_key
from modelshelf.shelf import Shelf

from ..models import write_big_safetensors
from .conftest import adopt_config, comfy, sha256


def _crashed_at(tmp_path: Path, phase: Phase, *, temp: bool = False, renamed: bool = False,
                changed: bool = False) -> tuple[Path, Path, str]:
    """An app file, its model imported (as a crash after the commit leaves it), and the journal
    row the adoption had written; the Shelf is closed, as after a kill."""
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/loras/mine.safetensors", 1, seed=21)
    digest = sha256(app)
    config = adopt_config(tmp_path)
    with Shelf(config, writer=True) as shelf:
        key = file_key(os.lstat(app))
        model = shelf.importer().run(ImportJob(app, ImportMode.COPY))
        library_file = shelf.library.root / model.path / app.name
        entry = Entry(app, phase, str(install), "models/loras/mine.safetensors", key, model.model_id,
                      f"{model.path}/{app.name}", LinkKind.RELATIVE.value, temp_name(app) if temp else None,
                      AppKind.COMFYUI)
        journal = AdoptJournal(config.paths.state_dir)
        journal.record(entry)
        journal.close()
    if temp or renamed:
        make_link(LinkKind.RELATIVE, library_file, entry.temp or temp_name(app))
    if renamed:
        os.rename(entry.temp, app)
    if changed:
        with open(app, "ab") as f:
            f.write(b"more")
        digest = sha256(app)
    return app, library_file, digest


def _after_restart(tmp_path: Path) -> tuple[list, int]:
    with Shelf(adopt_config(tmp_path), writer=True) as shelf:
        records = shelf.registry.all()
        kinds = {i.kind for i in shelf.registry.known_installs().values()}
        assert kinds <= {AppKind.COMFYUI}          # the install is registered as the kind the run saw
    with sqlite3.connect(tmp_path / "state" / "adopt.db") as db:
        rows = db.execute("SELECT count(*) FROM adopting").fetchone()[0]
    return records, rows


@pytest.mark.parametrize("phase,temp,renamed", [
    (Phase.IMPORTED, False, False),       # killed before the temp link
    (Phase.LINKING, True, False),         # killed after the temp link, before its row said so
    (Phase.LINKED, True, False),          # killed before the rename over the app file
    (Phase.RENAMED, True, True),          # killed before the registry commit
], ids=["imported", "linking", "linked", "renamed"])
def test_a_file_in_the_library_is_finished(tmp_path: Path, phase: Phase, temp: bool, renamed: bool) -> None:
    app, library_file, digest = _crashed_at(tmp_path, phase, temp=temp, renamed=renamed)
    records, rows = _after_restart(tmp_path)
    assert app.is_symlink() and Path(os.path.realpath(app)) == library_file and sha256(app) == digest
    assert [r.target_path for r in records] == [app] and rows == 0
    assert [(r.method, r.key, r.kind) for r in records] == [(PlacementMethod.LINK, None, LinkKind.RELATIVE)]
    assert [p.name for p in app.parent.iterdir()] == [app.name]        # no temp link left


def test_a_file_that_changed_after_hashing_is_left_as_it_is(tmp_path: Path) -> None:
    app, _, digest = _crashed_at(tmp_path, Phase.LINKED, temp=True, changed=True)
    records, rows = _after_restart(tmp_path)
    assert not app.is_symlink() and sha256(app) == digest and records == [] and rows == 0
    assert [p.name for p in app.parent.iterdir()] == [app.name]


def test_a_file_not_yet_in_the_library_is_left_and_staging_cleaned(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/loras/mine.safetensors", 1, seed=22)
    digest = sha256(app)
    config = adopt_config(tmp_path)
    with Shelf(config, writer=True) as shelf:
        journal = AdoptJournal(config.paths.state_dir)
        journal.record(Entry(app, Phase.PLANNED, str(install), "models/loras/mine.safetensors",
                             file_key(os.lstat(app))))
        journal.close()
        staged = shelf.library.staging / "adopt-123" / "model"
        staged.mkdir(parents=True)
        os.link(app, staged / app.name)                  # the hardlink into staging, then the kill
    records, rows = _after_restart(tmp_path)
    assert not app.is_symlink() and sha256(app) == digest and os.stat(app).st_nlink == 1
    assert records == [] and rows == 0
