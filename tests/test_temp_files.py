"""A test run leaves nothing in the temp folder for passing tests, and keeps a failing test's
tmp_path to debug it: a real pytest session in a subprocess, with this project's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"
SESSION = '''
def test_passes(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(bytes(1 << 20))

def test_passes_too(tmp_path_factory):
    (tmp_path_factory.mktemp("shared") / "index.db").write_bytes(b"x")

def test_fails(tmp_path):
    (tmp_path / "evidence.txt").write_text("what the failure left")
    assert {fails}
'''


def run_session(where: Path, fails: bool) -> tuple[int, list[str]]:
    """Run three tests under where/ with this project's pytest settings and where/tmp as the system
    temp folder; the exit code and the files left there."""
    (where / "test_sample.py").write_text(SESSION.format(fails="False" if fails else "True"))
    temp = where / "tmp"
    temp.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(PYPROJECT), "--rootdir", str(where),
                           "-p", "no:cacheprovider", "-q", str(where / "test_sample.py")],
                          env={**os.environ, "TMPDIR": str(temp)}, capture_output=True, text=True, timeout=120)
    return done.returncode, sorted(p.relative_to(temp).as_posix() for p in temp.rglob("*") if p.is_file())


def test_a_passing_run_leaves_no_file_in_the_temp_folder(tmp_path: Path) -> None:
    code, left = run_session(tmp_path, fails=False)
    assert (code, left) == (0, [])


def test_a_failing_test_keeps_its_tmp_path_and_only_that(tmp_path: Path) -> None:
    code, left = run_session(tmp_path, fails=True)
    assert code == 1
    assert [name.split("/", 2)[2] for name in left if not name.endswith(".lock")] == [
        "shared0/index.db", "test_fails0/evidence.txt"]     # session-wide dirs stay too: they may explain it
