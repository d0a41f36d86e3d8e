"""A moved source leaves the inbox only holding exactly what was read; after a crash, a source
caught mid-check is put back and one that had passed is deleted."""

from __future__ import annotations

import os
from pathlib import Path

from modelshelf.ingest import recover_retired
from modelshelf.ingest.retire import DONE_PREFIX, GONE_PREFIX, Retired, file_key, retire_source

from ..helpers import digests


def test_a_resumed_download_writing_into_the_same_file_is_kept(tmp_path: Path) -> None:
    src = tmp_path / "big.safetensors"
    src.write_bytes(b"x" * 1000)
    read = {src.name: file_key(os.lstat(src))}
    with open(src, "ab") as f:                   # wget -c / rsync --inplace: same inode, more bytes
        f.write(b"more")
    assert retire_source(src, "0123456789ab", read, is_folder=False) is Retired.CHANGED
    assert src.read_bytes() == b"x" * 1000 + b"more"


def test_an_unchanged_source_is_deleted_and_a_vanished_one_left_alone(tmp_path: Path) -> None:
    src = tmp_path / "model.safetensors"
    src.write_bytes(b"x")
    read = {src.name: file_key(os.lstat(src))}
    assert retire_source(src, "0123456789ab", read, is_folder=False) is Retired.REMOVED
    assert not src.exists() and not any(p.name.startswith(".modelshelf-") for p in tmp_path.iterdir())
    assert retire_source(src, "0123456789ab", read, is_folder=False) is Retired.GONE


def test_a_long_name_survives_its_hidden_name(tmp_path: Path) -> None:
    name = "é" * 100 + ".safetensors"                                   # 212 bytes
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    src = inbox / name
    src.write_bytes(b"x" * 10)
    read = {name: file_key(os.lstat(src))}
    os.truncate(src, 5)                                                 # changed: it must come back
    assert retire_source(src, "0123456789ab", read, is_folder=False) is Retired.CHANGED
    assert [p.name for p in inbox.iterdir()] == [name]


def test_recovery_puts_back_what_was_being_checked_and_deletes_what_had_passed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / f"{DONE_PREFIX}0123456789ab-model.safetensors").write_bytes(b"checking")
    (inbox / f"{DONE_PREFIX}0123456789ac-pipe").mkdir()
    (inbox / f"{GONE_PREFIX}0123456789ad").write_bytes(b"passed")
    (inbox / "model.safetensors").write_bytes(b"a new download took the name meanwhile")
    before = digests(inbox / "model.safetensors")
    assert recover_retired(inbox) == (2, 1)
    assert sorted(p.name for p in inbox.iterdir()) == ["model (2).safetensors", "model.safetensors", "pipe"]
    assert (inbox / "model (2).safetensors").read_bytes() == b"checking"
    assert digests(inbox / "model.safetensors") == before
