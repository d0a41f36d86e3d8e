"""inbox/failed.py: a file that cannot be imported goes to <inbox>/failed/ with a note whose remedy
is chosen by the error's type (never by words in its message), and nothing there is overwritten."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from modelshelf.classify.probe import MODEL_SUFFIXES
from modelshelf.errors import (
    ImportFailedError,
    IncompleteDownloadError,
    LibraryOfflineError,
    MetadataError,
    ModelshelfError,
    NoSpaceError,
    NotAModelError,
    TruncatedModelError,
)
from modelshelf.inbox.failed import move_to_failed, remedy_for, waits_for_library

SRC = Path("/home/u/inbox/model.safetensors")
DOWNLOAD_AGAIN = "Download the file again"
FREE_SPACE = "Free space on the library's drive"
FORMATS = "modelshelf imports .safetensors"
GENERIC = "Fix the cause above, then move the file back into the inbox to retry."

REMEDIES = {
    "truncated": (TruncatedModelError(SRC, 1000, 10), DOWNLOAD_AGAIN),
    "incomplete download": (IncompleteDownloadError(SRC, "stopped growing at 10 of 1000 bytes"), DOWNLOAD_AGAIN),
    "no space": (NoSpaceError(SRC, Path("/lib"), 10 << 30, 1 << 30), FREE_SPACE),
    "not a model": (NotAModelError(SRC, "'.txt' is not a model file type"), FORMATS),
    "import failed": (ImportFailedError(SRC, "copying", OSError(errno.EIO, "Input/output error")), GENERIC),
    "bad metadata": (MetadataError(Path("/lib/x/metadata.json"), "is not valid JSON"), GENERIC),
    "library offline": (LibraryOfflineError(Path("/lib"), "the folder does not exist"), GENERIC),
}


@pytest.mark.parametrize("case", REMEDIES, ids=list(REMEDIES))
def test_each_error_type_gets_its_remedy(case: str) -> None:
    error, expected = REMEDIES[case]
    remedy = remedy_for(error)
    assert expected in remedy
    others = {r for _, r in REMEDIES.values()} - {expected}
    assert not any(other in remedy for other in others)


@pytest.mark.parametrize("message", [
    "truncated: the header describes 1000 bytes", "No space left on device", "not a model file",
    "the download is incomplete"])
def test_the_remedy_follows_the_type_not_the_words(message: str) -> None:
    error = ImportFailedError(SRC, "importing", message)
    assert message in str(error)
    assert remedy_for(error) == GENERIC
    assert remedy_for(ModelshelfError(message)) == GENERIC


def test_a_subclass_gets_its_parents_remedy() -> None:
    class ShortSafetensors(TruncatedModelError):
        pass

    assert DOWNLOAD_AGAIN in remedy_for(ShortSafetensors(SRC, 10, 1))
    assert FORMATS not in remedy_for(ShortSafetensors(SRC, 10, 1))    # TruncatedModelError is a NotAModelError too


def test_the_formats_remedy_lists_every_suffix_the_importer_takes() -> None:
    remedy = remedy_for(NotAModelError(SRC, "bad header"))
    missing = [suffix for suffix in MODEL_SUFFIXES if not re.search(rf"{re.escape(suffix)}\b", remedy)]
    assert missing == [], f"the note does not mention {missing}"
    assert "diffusers folders" in remedy


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    (tmp_path / "inbox").mkdir()
    return tmp_path / "inbox"


def test_move_to_failed_writes_a_note_with_the_remedy(inbox: Path) -> None:
    source = inbox / "flux-dev.safetensors"
    source.write_bytes(b"partial bytes")
    error = TruncatedModelError(source, 1000, 13)
    target = move_to_failed(source, inbox, error)
    assert target == inbox / "failed" / "flux-dev.safetensors"
    assert not source.exists() and target.read_bytes() == b"partial bytes"
    note = Path(f"{target}.error.txt").read_text()
    assert note.startswith("modelshelf could not import flux-dev.safetensors (")
    assert f"What went wrong:\n  {error}\n" in note
    assert f"What to do:\n  {remedy_for(error)}\n" in note
    assert f"To retry, move flux-dev.safetensors back into {inbox}." in note
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == [
        "flux-dev.safetensors", "flux-dev.safetensors.error.txt"]          # no temp left


def test_move_to_failed_never_overwrites(inbox: Path) -> None:
    targets = []
    for n in range(3):
        source = inbox / "model.gguf"
        source.write_bytes(f"attempt {n}".encode())
        targets.append(move_to_failed(source, inbox, NotAModelError(source, f"reason {n}")))
    assert [t.name for t in targets] == ["model.gguf", "model (2).gguf", "model (3).gguf"]
    assert [t.read_bytes() for t in targets] == [b"attempt 0", b"attempt 1", b"attempt 2"]
    assert [f"reason {n}" in Path(f"{t}.error.txt").read_text() for n, t in enumerate(targets)] == [True] * 3


def test_an_orphaned_note_keeps_its_name_taken(inbox: Path) -> None:
    """The user deleted the file but kept its note: the next note must not replace it."""
    (inbox / "failed").mkdir()
    (inbox / "failed" / "m.gguf.error.txt").write_text("an earlier note")
    source = inbox / "m.gguf"
    source.write_bytes(b"x")
    target = move_to_failed(source, inbox, NotAModelError(source, "bad"))
    assert target.name == "m (2).gguf"
    assert (inbox / "failed" / "m.gguf.error.txt").read_text() == "an earlier note"


def test_a_folder_model_moves_whole(inbox: Path) -> None:
    pipe = inbox / "sdxl-pipe"
    (pipe / "unet").mkdir(parents=True)
    (pipe / "unet" / "w.safetensors").write_bytes(b"w")
    target = move_to_failed(pipe, inbox, NotAModelError(pipe, "no model_index.json"))
    assert (target / "unet" / "w.safetensors").read_bytes() == b"w"
    assert Path(f"{target}.error.txt").is_file()


# A name near the 255-byte limit once lost its note: "<name>.error.txt" and the temp name were
# longer than a name may be.
def test_a_long_name_still_gets_its_note(inbox: Path) -> None:
    source = inbox / ("x" * 240 + ".safetensors")              # 252 bytes: a valid name
    source.write_bytes(b"x")
    target = move_to_failed(source, inbox, NotAModelError(source, "bad"))
    notes = [p for p in (inbox / "failed").iterdir() if p != target]
    assert len(notes) == 1 and "What to do:" in notes[0].read_text()


def test_waits_for_library_only_for_the_librarys_own_trouble(tmp_path: Path) -> None:
    library, state = tmp_path / "lib", tmp_path / "state"
    assert waits_for_library(NoSpaceError(SRC, library, 10, 1), library)
    assert waits_for_library(LibraryOfflineError(library, "gone"), library)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(state / "models.db"))
    assert waits_for_library(ImportFailedError(SRC, "indexing", full), library, state)
    inbox_full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "inbox" / "x"))
    assert not waits_for_library(ImportFailedError(SRC, "copying", inbox_full), library, state)
    unreadable = OSError(errno.EIO, os.strerror(errno.EIO), str(library / "x"))
    assert not waits_for_library(ImportFailedError(SRC, "copying", unreadable), library, state)
    assert not waits_for_library(TruncatedModelError(SRC, 10, 1), library, state)
