"""fs/names.py: every safe_name can be created on NTFS with Windows' rules (ntfs-3g windows_names)
and on ext4 (255 bytes, not characters); numbered() gives the names tried when one is taken."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from pathlib import Path, PurePath

import pytest

from modelshelf.fs.names import MAX_NAME_BYTES, numbered, safe_name

from ..mounts import require_mount


@pytest.mark.parametrize("char", list('<>:"/\\|?*') + ["\x00", "\x01", "\t", "\n", "\x1f"])
def test_ntfs_forbidden_characters_become_underscores(char: str) -> None:
    assert safe_name(f"a{char}b.safetensors") == "a_b.safetensors"


@pytest.mark.parametrize(("name", "expected"), [
    ("CON", "_CON"), ("con", "_con"), ("nul.txt", "_nul.txt"), ("LPT1.gguf", "_LPT1.gguf"),
    ("COM9.tar.gz", "_COM9.tar.gz"), ("aux", "_aux"),
    ("CONSOLE", "CONSOLE"), ("COM10", "COM10"), ("con_model.gguf", "con_model.gguf"), ("LPT0", "LPT0"),
])
def test_reserved_device_names_are_prefixed(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("model. . ", "model"), ("  spaced  ", "spaced"), ("", "model"), (".", "model"), ("..", "model"),
    ("...", "model"), ("   ", "model"), ("file.", "file"),
])
def test_trailing_dots_spaces_and_empty_names(name: str, expected: str) -> None:
    assert safe_name(name) == expected
    assert safe_name("", fallback="pipe") == "pipe"


def test_long_multibyte_names_are_cut_by_bytes_on_a_character_boundary() -> None:
    for char in ("é", "模", "🙂"):                 # 2, 3 and 4 UTF-8 bytes
        name = char * 200 + ".safetensors"
        safe = safe_name(name)
        encoded = safe.encode("utf-8")             # strict: no half character was left
        assert len(encoded) <= MAX_NAME_BYTES and len(encoded) > MAX_NAME_BYTES - 4
        assert safe.endswith(".safetensors") and name.startswith(safe.removesuffix(".safetensors"))


def test_a_long_suffix_is_not_kept_as_an_extension() -> None:
    safe = safe_name("a" * 300 + "." + "b" * 40)
    assert len(safe.encode()) == MAX_NAME_BYTES and safe == ("a" * 300 + "." + "b" * 40)[:MAX_NAME_BYTES]
    assert safe_name("x" * MAX_NAME_BYTES) == "x" * MAX_NAME_BYTES   # exactly at the limit: unchanged


def test_names_that_are_not_utf8_become_valid_utf8() -> None:
    raw = os.fsdecode(b"caf\xe9 \xff.gguf")        # a Latin-1 name on a Linux disk
    safe = safe_name(raw)
    assert safe == "caf\ufffd \ufffd.gguf"
    safe.encode("utf-8")                           # would raise on a surrogate escape


NAMES = ['a:b?c*"d".safetensors', "CON.gguf", "x" * 300 + ".gguf", "模型" * 60 + ".safetensors",
         "trailing. ", "tab\there", "back\\slash|pipe<>", os.fsdecode(b"\xff\xfe.bin"), "🙂" * 70]


@pytest.mark.parametrize("name", NAMES)
def test_safe_name_is_stable(name: str) -> None:
    assert safe_name(safe_name(name)) == safe_name(name)


def test_safe_names_can_be_created_on_ext4_where_the_raw_ones_cannot(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    too_long = "模型" * 60 + ".safetensors"          # 372 bytes, 132 characters
    with pytest.raises(OSError) as caught:
        (folder / too_long).write_bytes(b"x")
    assert caught.value.errno == errno.ENAMETOOLONG
    for name in NAMES:
        (folder / safe_name(name)).write_bytes(b"x")
    assert len(list(folder.iterdir())) == len(NAMES)


def test_safe_names_can_be_created_on_ntfs_with_windows_rules(tmp_path: Path) -> None:
    """ntfs-3g's windows_names refuses (EINVAL) exactly what Windows refuses."""
    require_mount()
    if not (shutil.which("mkntfs") and shutil.which("ntfs-3g")):
        pytest.skip("mkntfs/ntfs-3g are not installed (apt-get install ntfs-3g)")
    image, where = tmp_path / f"ntfs-{uuid.uuid4().hex[:6]}.img", tmp_path / "ntfs"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    subprocess.run(["mkntfs", "-q", "-F", "-Q", str(image)], check=True, capture_output=True)
    where.mkdir()
    subprocess.run(["ntfs-3g", "-o", "windows_names", str(image), str(where)], check=True, capture_output=True)
    try:
        with pytest.raises(OSError):
            (where / "a:b.gguf").write_bytes(b"x")          # the mount really enforces Windows' rules
        with pytest.raises(OSError):
            (where / "CON.gguf").write_bytes(b"x")
        for name in NAMES:
            (where / safe_name(name)).write_bytes(b"x")
        assert len(list(where.iterdir())) == len(NAMES)
    finally:
        subprocess.run(["umount", str(where)], capture_output=True)


def test_numbered_keeps_the_extension() -> None:
    names = numbered(PurePath("/in/failed/model.safetensors"))
    assert [next(names).name for _ in range(4)] == ["model.safetensors", "model (2).safetensors",
                                                    "model (3).safetensors", "model (4).safetensors"]


def test_numbered_folders_are_numbered_whole() -> None:
    names = numbered(PurePath("lib/diffusers/sdxl/pipe.v1.0"), keep_suffix=False)
    assert [str(next(names)) for _ in range(3)] == ["lib/diffusers/sdxl/pipe.v1.0",
                                                    "lib/diffusers/sdxl/pipe.v1.0 (2)",
                                                    "lib/diffusers/sdxl/pipe.v1.0 (3)"]
    names = numbered(PurePath("lib/pipe.v1.0"))
    assert [next(names).name for _ in range(2)] == ["pipe.v1.0", "pipe.v1 (2).0"]   # why folders pass False


def test_numbered_gives_free_names_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for _ in range(3):
        target = next(p for p in numbered(folder / "a.gguf") if not os.path.lexists(p))
        Path(target).write_bytes(b"x")
    assert sorted(p.name for p in folder.iterdir()) == ["a (2).gguf", "a (3).gguf", "a.gguf"]
