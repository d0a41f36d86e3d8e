"""The harness's path logic (paths.sh) on real mounts, in a private mount namespace: a checkout
and a virtual environment sharing one 0700 folder (one `mktemp -d`, or /root) both stay
reachable, by the test user and, past PrivateTmp=, by the unit; nothing written to /tmp inside
is left on the machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

PATHS = Path(__file__).with_name("paths.sh")
DROP_IN = "/run/systemd/user/modelshelf.service.d/msh-paths.conf"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")),
                                reason="needs root, unshare and setpriv to build a mount namespace")

# Run in a private mount namespace: the mounts vanish with it. As the test user, each wanted
# file must read back, and the 0700 folder's other content must stay out of sight.
SCRIPT = f"""
set -euo pipefail
code=$1 venv=$2 secret=$3 litter=$5
mount -t tmpfs -o mode=755 msh-run /run
mkdir -p /run/msh
source "$4"
reach "$code" "$venv"
setpriv --reuid=4242 --regid=4242 --clear-groups bash -c '
    set -e
    cat /srv/modelshelf/daemon/modelshelf/__init__.py "$1/bin/python" "$1/pyvenv.cfg"
    ! cat "$2" 2>/dev/null
    echo left >"$3"' user "$venv" "$secret" "$litter"
cat {DROP_IN}
"""


def layout(box: Path, checkout: str, venv: str) -> tuple[Path, Path, Path]:
    """A 0700 folder holding a checkout, a virtual environment and something private."""
    code = box / checkout / "daemon"
    (code / "modelshelf").mkdir(parents=True)
    (code / "modelshelf" / "__init__.py").write_text("# modelshelf\n")
    env = box / venv
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").write_text("#!python\n")
    (env / "pyvenv.cfg").write_text("home = /usr/bin\n")
    secret = box / "private.txt"
    secret.write_text("not for the test user")
    between = {p for wanted in (code.parent, env) for p in wanted.relative_to(box).parents if p != Path(".")}
    for folder in [box, *(box / p for p in between)]:
        folder.chmod(0o700)        # as `mktemp -d` and /root are, and any folder between
    return code, env, secret


def reach(code: Path, venv: Path, secret: Path, litter: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", SCRIPT, "reach",
                           str(code), str(venv), str(secret), str(PATHS), str(litter)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("box", "checkout", "venv"), [
    ("tmp.Xq81", "modelshelf", "venv"),                 # one mktemp -d holding both
    ("ms clone", "x y", "my venv"),                     # spaces everywhere
    ("outer", "inner/src", "inner/venv"),               # two 0700 levels
])
def test_a_checkout_and_a_venv_in_one_private_folder_are_both_reachable(
        tmp_path: Path, box: str, checkout: str, venv: str) -> None:
    code, env, secret = layout(tmp_path / box, checkout, venv)
    litter = Path("/tmp") / f"systemd-private-msh-test-{uuid.uuid4().hex}"   # where systemd puts them
    done = reach(code, env, secret, litter)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# modelshelf\n#!python\nhome = /usr/bin\n")
    # tmp_path lies under /tmp, which the unit's PrivateTmp= replaces: the venv is bound back in.
    quoted = str(env).replace("%", "%%")
    assert done.stdout.endswith(f'[Service]\nBindReadOnlyPaths=/srv/modelshelf/reach/1:"{quoted}"\n'), done.stdout
    assert secret.read_text() == "not for the test user"     # the host's view is untouched
    assert not litter.exists()              # what is left in /tmp inside goes with the namespace
