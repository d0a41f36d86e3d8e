"""The library root: its marker tells a library from an unmounted drive, paths inside it are
checked after resolving symlinks, and one process at a time may write to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.errors import LibraryLockedError, LibraryOfflineError
from modelshelf.library import MARKER_NAME, Library, WriterLock, open_library


def test_a_missing_root_is_created_with_its_marker(tmp_path: Path) -> None:
    root = tmp_path / "drive" / "library"
    lib = open_library(root, may_create=True)
    assert lib.root == root and len(lib.library_id) == 32
    assert json.loads((root / MARKER_NAME).read_text())["library_id"] == lib.library_id
    assert [p.name for p in root.iterdir()] == [MARKER_NAME]
    assert open_library(root, may_create=False).library_id == lib.library_id   # the marker is the identity


def test_an_empty_folder_becomes_a_library(tmp_path: Path) -> None:
    root = tmp_path / "library"
    root.mkdir()
    assert open_library(root, may_create=True).library_id
    assert (root / MARKER_NAME).is_file()


def test_a_folder_with_files_but_no_marker_is_refused_untouched(tmp_path: Path) -> None:
    root = tmp_path / "mnt"                      # a mount point whose drive is not mounted, or a wrong path
    root.mkdir()
    (root / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(LibraryOfflineError, match=f"no {MARKER_NAME} marker") as caught:
        open_library(root, may_create=True)
    assert caught.value.path == root and isinstance(caught.value, FileNotFoundError)
    assert "Mount the drive" in str(caught.value)
    assert [p.name for p in root.iterdir()] == ["holiday.jpg"]


def test_without_may_create_nothing_is_created(tmp_path: Path) -> None:
    with pytest.raises(LibraryOfflineError, match="the folder does not exist"):
        open_library(tmp_path / "missing", may_create=False)
    assert not (tmp_path / "missing").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(LibraryOfflineError, match="marker"):
        open_library(tmp_path / "empty", may_create=False)
    assert list((tmp_path / "empty").iterdir()) == []


# A damaged marker is its own error, not "no marker" (LibraryOfflineError is a FileNotFoundError
# too, and open_library once swallowed it as a missing marker).
@pytest.mark.bad_input
@pytest.mark.parametrize("content", [b"", b"{not json", b'{"id": 1}'])
def test_a_damaged_marker_says_so(tmp_path: Path, content: bytes) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / MARKER_NAME).write_bytes(content)
    with pytest.raises(LibraryOfflineError, match="is damaged"):
        open_library(root, may_create=True)


@pytest.mark.bad_input
@pytest.mark.parametrize("content", [b"", b"{not json", b'{"id": 1}'])
@pytest.mark.parametrize("may_create", [True, False])
def test_a_damaged_marker_is_offline_and_kept(tmp_path: Path, content: bytes, may_create: bool) -> None:
    root = tmp_path / "lib"
    root.mkdir()
    (root / MARKER_NAME).write_bytes(content)
    with pytest.raises(LibraryOfflineError, match="is offline"):
        open_library(root, may_create=may_create)
    assert [p.name for p in root.iterdir()] == [MARKER_NAME]
    assert (root / MARKER_NAME).read_bytes() == content      # never replaced by a new identity


def test_folder_and_relative_are_inverse(tmp_path: Path) -> None:
    lib = open_library(tmp_path / "lib", may_create=True)
    folder = lib.folder("lora/sdxl/détail")
    assert folder == lib.root / "lora" / "sdxl" / "détail"
    assert lib.relative(folder) == "lora/sdxl/détail"
    with pytest.raises(ValueError):
        lib.relative(tmp_path / "elsewhere")
    assert lib.model_dir("lora", "sdxl", 'a:b?"c') == lib.root / "lora/sdxl/a_b__c"   # names made safe


def test_contains_resolves_symlinks(tmp_path: Path) -> None:
    lib = open_library(tmp_path / "lib", may_create=True)
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(b"x")
    inside = lib.root / "lora" / "a.safetensors"
    inside.parent.mkdir()
    inside.write_bytes(b"y")
    (lib.root / "lora" / "escape.safetensors").symlink_to(outside)
    (lib.root / "lora" / "to_etc").symlink_to("/etc")
    (lib.root / "lora" / "internal").symlink_to(inside)
    sibling = tmp_path / "lib2"                  # shares the root's name as a string prefix
    sibling.mkdir()
    assert lib.contains(inside) and lib.contains(lib.root) and lib.contains(lib.root / "lora" / "internal")
    assert not lib.contains(lib.root / "lora" / "escape.safetensors")
    assert not lib.contains(lib.root / "lora" / "to_etc" / "passwd")
    assert not lib.contains(lib.root / ".." / "outside.safetensors")
    assert not lib.contains(sibling)


def test_contains_holds_when_the_root_itself_is_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "library"
    open_library(real, may_create=True)
    (tmp_path / "lib").symlink_to(real)
    lib = Library(tmp_path / "lib", "id")
    assert lib.contains(real / MARKER_NAME) and lib.contains(tmp_path / "lib" / MARKER_NAME)


def test_writer_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    path = tmp_path / "state" / "writer.lock"
    first = WriterLock(path)
    first.acquire("daemon")
    with pytest.raises(LibraryLockedError) as caught:
        WriterLock(path).acquire("cli")          # flock is per open file: a second open conflicts
    message = str(caught.value)
    assert f"modelshelf daemon (pid {os.getpid()}) holds {path}" in message
    assert "wait for it to finish, or use the running daemon" in message
    first.release()
    with WriterLock(path) as second:
        second.acquire("cli")
        assert path.read_text() == f"modelshelf cli (pid {os.getpid()})"   # no stale holder text


HOLDER = """
import sys
from pathlib import Path
from modelshelf.library import WriterLock
lock = WriterLock(Path(sys.argv[1]))
lock.acquire("import")
print("held", flush=True)
sys.stdin.read()
"""


def test_writer_lock_across_processes_is_released_when_the_holder_exits(tmp_path: Path) -> None:
    path = tmp_path / "writer.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(LibraryLockedError, match=rf"modelshelf import \(pid {holder.pid}\) holds"):
            WriterLock(path).acquire("cli")
    finally:
        holder.stdin.close()                     # the holder exits without releasing: the kernel does
        holder.wait(timeout=30)
        holder.stdout.close()
    lock = WriterLock(path)
    lock.acquire("cli")
    lock.release()
