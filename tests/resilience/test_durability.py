"""Durability order under strace: every new name is fsynced before it is renamed into place,
the folder after, and the source is unlinked only after all of that."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .. import tally
from ..models import write_big_safetensors
from ..mounts import tmpfs


def events(log: Path) -> list[tuple[str, str]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.match(r"^\d+\s+(\w+)\((.*)$", line)
        if m and "resumed>" not in line:
            out.append((m.group(1), m.group(2)))
    return out


def first(evts: list[tuple[str, str]], after: int, call: str, *needles: str) -> int:
    for i in range(after + 1, len(evts)):
        name, args = evts[i]
        if name == call and all(n in args for n in needles):
            return i
    raise AssertionError(f"no {call}({', '.join(needles)}) after event {after}")


def test_copy_then_delete_is_fsync_rename_fsync_dir_then_unlink(tmp_path: Path) -> None:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    with tmpfs(tmp_path / "usb", "64m") as usb:                      # another filesystem: copy + delete
        src = write_big_safetensors(usb / "durable.safetensors", 8)
        log = tmp_path / "strace.log"
        proc = subprocess.run(["strace", "-f", "-y", "-qq", "-o", str(log), "-e",
                               "trace=fsync,rename,renameat2,unlink,openat",
                               sys.executable, "-m", "modelshelf", "import", "--move", str(src)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert not src.exists()
    e = events(log)
    tmp = first(e, -1, "openat", "durable.safetensors.tmp", "O_CREAT")
    fsync_file = first(e, tmp, "fsync", "durable.safetensors.tmp>")
    rename_file = first(e, fsync_file, "renameat2", "durable.safetensors.tmp\"", "/model/durable.safetensors\"")
    file_dir = first(e, rename_file, "fsync", "/model>")
    meta_fsync = first(e, file_dir, "fsync", ".metadata.json.", ".tmp>")
    meta_rename = first(e, meta_fsync, "rename", ".metadata.json.", "/model/metadata.json\"")
    meta_dir = first(e, meta_rename, "fsync", "/model>")
    place = first(e, meta_dir, "renameat2", "/model\"", "lora/unknown/durable\"")
    place_dir = first(e, place, "fsync", "/lora/unknown>")
    verify = first(e, place_dir, "openat", "lora/unknown/durable/durable.safetensors\"")   # read back
    retire = first(e, verify, "rename", "usb/durable.safetensors\"", "usb/.modelshelf-done-")   # leaves its name
    passed = first(e, retire, "rename", "usb/.modelshelf-done-", "usb/.modelshelf-gone-")   # checked: it is ours
    unlink = first(e, passed, "unlink", "usb/.modelshelf-gone-")
    # first() only looks after the event before it, so finding each one proves the order.
    order = [tmp, fsync_file, rename_file, file_dir, meta_fsync, meta_rename, meta_dir, place, place_dir, verify,
             retire, passed, unlink]
    tally.report(f"durability order: open .tmp → fsync → rename → fsync dir → metadata fsync → rename → fsync dir → "
                 f"place → fsync parent → read back → source renamed out → checked → unlink (events {order})")
