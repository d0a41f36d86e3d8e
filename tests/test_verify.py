"""verify.py and actions.verify: models imported by the real importer re-hash to what their
metadata.json says; a flipped byte, a missing or unreadable file and a broken metadata.json are
each reported as such, and `modelshelf verify` exits 1 when anything failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf import actions
from modelshelf.config import Config, ImportMode
from modelshelf.errors import ModelNotFoundError
from modelshelf.ingest import ImportJob, settings_from_config
from modelshelf.library import METADATA_NAME, read_metadata
from modelshelf.shelf import Shelf
from modelshelf.verify import FileState, ModelCheck, verify_model

from .helpers import files_under
from .models import write_diffusers, write_gguf, write_safetensors


@pytest.fixture
def models(shelf: Shelf, tmp_path: Path) -> dict[str, Path]:
    """Three models of three shapes, imported for real: name -> model folder in the library."""
    src = tmp_path / "src"
    src.mkdir()
    sources = {"lora": write_safetensors(src / "detail.safetensors", "lora_sdxl"),
               "llm": write_gguf(src / "llama.gguf", "llama", "Llama"),
               "pipe": write_diffusers(src / "pipe")}
    importer = shelf.importer()
    return {name: shelf.library.folder(importer.run(ImportJob(s, ImportMode.COPY)).path)
            for name, s in sources.items()}


def checks(shelf: Shelf) -> dict[str, ModelCheck]:
    return {c.path: c for c in actions.verify(shelf)}


def states(check: ModelCheck) -> dict[str, FileState]:
    return {f.name: f.state for f in check.files}


def model_file(folder: Path) -> Path:
    meta = read_metadata(folder / METADATA_NAME)
    return folder / (meta.primary_file or meta.files[0].name)


def test_imported_models_verify_ok_file_by_file(shelf: Shelf, models: dict[str, Path]) -> None:
    found = checks(shelf)
    assert sorted(found) == sorted(shelf.library.relative(f) for f in models.values())
    for folder in models.values():
        check = found[shelf.library.relative(folder)]
        listed = [f.name for f in read_metadata(folder / METADATA_NAME).files]
        assert check.ok and [f.name for f in check.files] == listed
        assert set(states(check).values()) == {FileState.OK}
    assert len(found[shelf.library.relative(models["pipe"])].files) > 1    # every file of a folder model


def test_verify_reads_only(shelf: Shelf, models: dict[str, Path]) -> None:
    root = shelf.library.root
    before = {p: (os.stat(root / p).st_mtime_ns, (root / p).read_bytes()) for p in files_under(root)}
    index = shelf.index.dump()
    list(actions.verify(shelf))
    assert {p: (os.stat(root / p).st_mtime_ns, (root / p).read_bytes()) for p in files_under(root)} == before
    assert shelf.index.dump() == index


@pytest.mark.bad_input
def test_one_flipped_byte_is_changed(shelf: Shelf, models: dict[str, Path]) -> None:
    target = model_file(models["llm"])
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01                    # same size, same name: only the hash can tell
    target.write_bytes(bytes(data))
    found = checks(shelf)
    bad = found[shelf.library.relative(models["llm"])]
    assert not bad.ok and states(bad) == {target.name: FileState.CHANGED}
    meta = read_metadata(models["llm"] / METADATA_NAME)
    assert bad.files[0].detail.startswith("blake3 ") and f"differs from {meta.blake3[:12]}…" in bad.files[0].detail
    assert [c.ok for p, c in found.items() if p != bad.path] == [True, True]    # the others are untouched


@pytest.mark.bad_input
def test_a_grown_file_is_changed(shelf: Shelf, models: dict[str, Path]) -> None:
    target = model_file(models["lora"])
    with open(target, "ab") as f:
        f.write(b"\0")
    assert states(checks(shelf)[shelf.library.relative(models["lora"])]) == {target.name: FileState.CHANGED}


@pytest.mark.bad_input
def test_a_deleted_file_is_missing(shelf: Shelf, models: dict[str, Path]) -> None:
    folder = models["pipe"]
    files = [f.name for f in read_metadata(folder / METADATA_NAME).files]
    (folder / files[-1]).unlink()
    check = checks(shelf)[shelf.library.relative(folder)]
    assert states(check) == {name: FileState.OK for name in files[:-1]} | {files[-1]: FileState.MISSING}
    assert check.files[-1].detail == "listed in metadata.json but gone"


@pytest.mark.bad_input
def test_an_unreadable_file_is_unreadable(shelf: Shelf, models: dict[str, Path]) -> None:
    target = model_file(models["lora"])
    target.unlink()
    target.mkdir()                # root reads a chmod 000 file: a folder in its place cannot be read
    check = checks(shelf)[shelf.library.relative(models["lora"])]
    assert [(f.name, f.state, f.detail) for f in check.files] == [
        (target.name, FileState.UNREADABLE, "not a regular file")]


@pytest.mark.bad_input
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file (CI runs as root; "
                    "test_an_unreadable_file_is_unreadable covers it with a folder)")
def test_a_chmod_000_file_is_unreadable(shelf: Shelf, models: dict[str, Path]) -> None:
    target = model_file(models["lora"])
    target.chmod(0)
    check = checks(shelf)[shelf.library.relative(models["lora"])]
    assert [(f.state, f.detail) for f in check.files] == [(FileState.UNREADABLE, "Permission denied")]


@pytest.mark.bad_input
def test_a_broken_metadata_json_is_unreadable(shelf: Shelf, models: dict[str, Path]) -> None:
    meta = models["llm"] / METADATA_NAME
    meta.write_text(meta.read_text()[:-20])
    check = checks(shelf)[shelf.library.relative(models["llm"])]
    assert [(f.name, f.state) for f in check.files] == [(METADATA_NAME, FileState.UNREADABLE)]
    assert check.files[0].detail.startswith(f"{meta}: is not valid JSON")
    meta.unlink()
    check = verify_model(models["llm"], "x", settings_from_config(shelf.config.imports))
    assert check.files[0].state is FileState.UNREADABLE and "cannot be read" in check.files[0].detail


def test_one_model_by_id_prefix(shelf: Shelf, models: dict[str, Path]) -> None:
    meta = read_metadata(models["llm"] / METADATA_NAME)
    assert [c.path for c in actions.verify(shelf, meta.model_id[:8])] == [shelf.library.relative(models["llm"])]
    with pytest.raises(ModelNotFoundError):
        list(actions.verify(shelf, "no-such-model"))


def test_verify_needs_no_writer_lock(shelf: Shelf, config: Config, models: dict[str, Path]) -> None:
    with Shelf(config, writer=False) as reader:          # the shelf fixture holds the writer lock
        assert all(c.ok for c in actions.verify(reader)) and len(list(actions.verify(reader))) == 3


# A FIFO in a model file's place once blocked verify's open for ever.
def test_a_fifo_in_place_of_a_file_is_unreadable_not_a_hang(shelf: Shelf, models: dict[str, Path],
                                                             config: Config, tmp_path: Path) -> None:
    target = model_file(models["lora"])
    target.unlink()
    os.mkfifo(target)
    proc = cli(config, tmp_path, "verify", timeout=10)
    assert proc.returncode == 1 and "unreadable" in proc.stdout


def cli(config: Config, tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`modelshelf --config <file naming config's paths> ...` as a real process."""
    toml = tmp_path / "config.toml"
    paths = config.paths
    toml.write_text(f'[paths]\nlibrary = "{paths.library}"\ninboxes = ["{paths.inboxes[0]}"]\n'
                    f'state_dir = "{paths.state_dir}"\n')
    proc = subprocess.run([sys.executable, "-m", "modelshelf", "--config", str(toml), *args],
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_cli_exit_codes(shelf: Shelf, config: Config, models: dict[str, Path], tmp_path: Path) -> None:
    ok = cli(config, tmp_path, "verify")
    assert (ok.returncode, ok.stdout.splitlines()[-1]) == (0, "3 ok, 0 failed")
    target = model_file(models["lora"])
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    (models["pipe"] / METADATA_NAME).write_text("{")
    bad = cli(config, tmp_path, "verify")
    assert bad.returncode == 1 and bad.stdout.splitlines()[-1] == "1 ok, 2 failed"
    lora, pipe = shelf.library.relative(models["lora"]), shelf.library.relative(models["pipe"])
    assert f"FAILED   {lora}: {target.name}: changed blake3 " in bad.stdout
    assert f"FAILED   {pipe}: {METADATA_NAME}: unreadable " in bad.stdout
    llm = shelf.library.relative(models["llm"])
    assert (one := cli(config, tmp_path, "verify", llm)).returncode == 0 and one.stdout.endswith("1 ok, 0 failed\n")
    as_json = cli(config, tmp_path, "verify", "--json")
    assert as_json.returncode == 1
    report = {c["path"]: c for c in json.loads(as_json.stdout)}
    assert [f["state"] for f in report[lora]["files"]] == ["changed"]
    assert [f["state"] for f in report[llm]["files"]] == ["ok"]
