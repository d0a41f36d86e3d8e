"""`modelshelf adopt` from the command line: on the library itself when no daemon runs, by the
daemon over its socket when one does (its progress on the status board)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from modelshelf.adopt import adopt_in_daemon
from modelshelf.service.status import StatusBoard
from modelshelf.shelf import Shelf

from ..helpers import wait_for
from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess
from .conftest import adopt_config, build_world, comfy, sha256, snapshot


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
        out = d.cli("adopt", "--dry-run", "--json")             # by the daemon, still read only
        assert out.returncode == 0 and json.loads(out.stdout)["by"] == "daemon", out.stderr
        assert snapshot(versions, world.a1111) == before
        out = d.cli("adopt", "--json", str(versions), str(world.a1111))
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["by"] == "daemon" and result["freed"] == world.duplicate_blocks
        assert all(sha256(p) == digest and p.is_symlink() for p, digest in world.models.items())
        job, dry = [j for j in d.call("jobs")["recent"] if j["job_id"].startswith("adopt-")]   # newest first
        assert job["state"] == dry["state"] == "imported" and "gave back" in job["path"]
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


def test_the_daemon_shows_the_adoption_on_its_status_board(world_shelf) -> None:
    shelf, world = world_shelf
    board, cancel = StatusBoard(), threading.Event()
    seen: list[dict] = []
    show = board.progress

    def watched(progress) -> None:        # what `modelshelf status` would read at that moment
        show(progress)
        seen.append(board.snapshot())

    board.progress = watched
    result = adopt_in_daemon(shelf, {"paths": [str(world.a1111)]}, board, cancel)
    assert result["by"] == "daemon" and result["counts"] == {"adopted": 2}
    running = [job for snap in seen for job in snap["running"]]
    assert running and all(job["job_id"].startswith("adopt-") for job in running)
    assert max(job["done_bytes"] for job in running) >= sum(
        p.stat().st_size for p in world.models if p.is_relative_to(world.a1111))
    assert "importing stable-diffusion-webui" in seen[0]["status_line"]
    [job] = board.jobs()["recent"]
    assert job["state"] == "imported" and job["path"].startswith("adopted: gave back")
    assert board.snapshot()["running"] == []


def test_a_stopped_daemon_stops_the_adoption_between_files(world_shelf) -> None:
    shelf, world = world_shelf
    cancel = threading.Event()
    cancel.set()                            # the daemon is stopping
    result = adopt_in_daemon(shelf, {"paths": [str(world.a1111)]}, StatusBoard(), cancel)
    assert {f["reason"] for f in result["files"]} == {"cancelled"}
    assert not any(p.is_symlink() for p in world.models if p.is_relative_to(world.a1111))


def test_stopping_the_daemon_cancels_its_adoption_between_files(tmp_path: Path) -> None:
    """A stop drains the adoption like an import (it is on the board); a second stop cancels it:
    the file being adopted finishes, the rest stay as they are, the daemon exits cleanly."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    install = comfy(tmp_path / "ComfyUI")
    loras = install / "models/loras"
    written = [write_safetensors(loras / f"l{i:02d}.safetensors", "lora_sdxl", salt=i) for i in range(12)]
    files = {p: sha256(p) for p in written}
    # Each link the daemon makes takes half a second, so the run is still going when it is stopped.
    slow = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=symlink", "-e", "inject=symlink:delay_enter=500000"]
    with DaemonProcess(tmp_path, prefix=slow) as d:
        d.start()
        answer: list[subprocess.CompletedProcess] = []
        client = threading.Thread(target=lambda: answer.append(d.cli("adopt", "--json", str(install))))
        client.start()
        wait_for(lambda: any(p.is_symlink() for p in files), 30, "the first file adopted")
        os.kill(d.pid, signal.SIGTERM)
        wait_for(lambda: "letting 1 running import finish" in d.logs(), 10, "the stop waiting for the adoption")
        os.kill(d.pid, signal.SIGTERM)
        assert d.stop() == 0
        client.join(60)
    result = json.loads(answer[0].stdout)
    outcomes = {Path(f["path"]): f["outcome"] if f["outcome"] != "skipped" else f["reason"] for f in result["files"]}
    adopted = {p for p, what in outcomes.items() if what == "adopted"}
    assert adopted and set(outcomes) == set(files) and set(outcomes.values()) == {"adopted", "cancelled"}
    assert all(p.is_symlink() == (p in adopted) and sha256(p) == digest for p, digest in files.items())
    with sqlite3.connect(tmp_path / "state" / "adopt.db") as journal:
        assert journal.execute("SELECT count(*) FROM adopting").fetchone() == (0,)
    with sqlite3.connect(tmp_path / "state" / "registry.db") as registry:
        assert {install / t for (t,) in registry.execute("SELECT target FROM links")} == adopted
