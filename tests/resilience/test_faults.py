"""Faults injected by strace into a real import: a clear one-line error, the source intact,
nothing partial kept or indexed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import EMPTY_LIBRARY, digests, files_under
from ..models import write_big_safetensors

# Write faults are not injected by count here: SQLite's own pwrite64 calls share the counters
# (ENOSPC mid-copy is shown on a real tmpfs in tests/ingest/test_filesystems.py, EIO writing the
# copy against the daemon in test_daemon_faults.py).
FAULTS = [  # (name, strace arguments, text the error line must carry)
    ("EIO on read", ["-P", "{src}", "-e", "trace=preadv2", "-e", "inject=preadv2:error=EIO:when=2"],
     "Input/output error"),
    ("EIO on fsync", ["-e", "trace=fsync", "-e", "inject=fsync:error=EIO:when=1"], "Input/output error"),
    ("EACCES on open", ["-P", "{src}", "-e", "trace=openat", "-e", "inject=openat:error=EACCES"],
     "Permission denied"),
    ("EXDEV on rename", ["-e", "trace=renameat2", "-e", "inject=renameat2:error=EXDEV"], "Invalid cross-device link"),
    ("EACCES on rename", ["-e", "trace=renameat2", "-e", "inject=renameat2:error=EACCES"], "Permission denied"),
]


def cli(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), sys.executable, "-m", "modelshelf", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.fault
@pytest.mark.parametrize("name,strace_args,message", FAULTS, ids=[f[0] for f in FAULTS])
def test_injected_fault(tmp_path: Path, isolated_home: Path, name: str, strace_args: list[str], message: str) -> None:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    assert cli("list").returncode == 0                         # the library and index exist already
    src = write_big_safetensors(tmp_path / "victim.safetensors", 20)
    before = digests(src)
    strace = ["strace", "-f", "-qq", "-o", str(tmp_path / "strace.log"),
              *[a.format(src=src) for a in strace_args]]
    proc = cli("import", "--copy", str(src), prefix=strace)
    injected = (tmp_path / "strace.log").read_text().count("INJECTED")
    assert injected >= 1, f"{name}: nothing was injected"
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(src) in lines[0] and message in lines[0], lines
    assert digests(src) == before
    library = isolated_home / ".local/share/modelshelf/library"
    assert files_under(library) == EMPTY_LIBRARY                # no .tmp, no staging, no model
    assert json.loads(cli("list", "--json").stdout) == []
    assert cli("import", "--copy", str(src)).returncode == 0   # and the next try just works


@pytest.mark.fault
def test_a_source_that_cannot_leave_after_the_commit_stays_and_the_import_stands(tmp_path: Path,
                                                                                 isolated_home: Path) -> None:
    """After the commit the model is in the library whatever happens: EACCES renaming the source
    out of its name is reported, the source stays, and the import is not called a failure."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    (tmp_path / "inbox").mkdir()
    src = write_big_safetensors(tmp_path / "inbox" / "kept.safetensors", 4)
    before = digests(src)
    log = tmp_path / "strace.log"
    strace = ["strace", "-f", "-qq", "-o", str(log), "-P", str(src), "-e", "trace=rename",
              "-e", "inject=rename:error=EACCES"]
    proc = cli("import", "--move", str(src), prefix=strace)
    assert log.read_text().count("INJECTED") == 1
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "could not remove it from the inbox" in proc.stderr and "Permission denied" in proc.stderr
    assert digests(src) == before and [p.name for p in src.parent.iterdir()] == [src.name]
    [model] = json.loads(cli("list", "--json").stdout)
    assert model["sha256"] == before[1]
