"""`modelshelf adopt` from the command line: on the library itself when no daemon runs, by the
daemon over its socket when one does (its progress on the status board)."""

from __future__ import annotations

import json
from pathlib import Path

from modelshelf.shelf import Shelf

from ..service.daemon_proc import DaemonProcess
from .conftest import adopt_config, build_world, sha256, snapshot


def test_cli_dry_run_then_the_daemon_adopts(tmp_path: Path) -> None:
    versions = tmp_path / "comfyui-versions"
    with DaemonProcess(tmp_path, extra_config=f'[[apps]]\nroot = "{versions}/*"\n') as d:
        with Shelf(adopt_config(tmp_path, versions / "*"), writer=True) as shelf:
            world = build_world(tmp_path, shelf)
        before = snapshot(versions, world.a1111)
        out = d.cli("adopt", "--dry-run")                       # no daemon: planned here, read only
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        assert "duplicate of" in out.stdout and "nothing was changed" in out.stdout
        assert "skip       " in out.stdout and "a symlink loop" in out.stdout
        assert snapshot(versions, world.a1111) == before
        d.start()
        out = d.cli("adopt", "--json", str(versions), str(world.a1111))
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["by"] == "daemon" and result["freed"] == world.duplicate_blocks
        assert all(sha256(p) == digest and p.is_symlink() for p, digest in world.models.items())
        [job] = [j for j in d.call("jobs")["recent"] if j["job_id"].startswith("adopt-")]
        assert job["state"] == "imported" and "gave back" in job["path"]
        assert d.call("status")["models"] == world.contents + 1


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        out = d.cli("adopt")
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "no app installs to adopt from" in out.stderr
        out = d.cli("adopt", str(tmp_path / "missing"))
        assert out.returncode == 2 and "it does not exist" in out.stderr and "Traceback" not in out.stderr
        d.start()
        out = d.cli("adopt", str(tmp_path / "missing"))
        assert out.returncode == 2 and "it does not exist" in out.stderr and "Traceback" not in out.stderr
