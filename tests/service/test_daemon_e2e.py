"""The real daemon as a subprocess, fed the way real tools write files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ..helpers import digests, files_under, wait_for
from ..models import write_big_safetensors, write_diffusers, write_gguf, write_safetensors
from .daemon_proc import DaemonProcess, library_models


@pytest.fixture
def daemon(tmp_path: Path):
    with DaemonProcess(tmp_path) as d:
        d.start()
        yield d


def imported_names(d: DaemonProcess) -> list[str]:
    return sorted(Path(j["source"]).name for j in d.finished_jobs() if j["state"] == "imported")


def test_browser_style_download(daemon: DaemonProcess, tmp_path: Path) -> None:
    content = write_big_safetensors(tmp_path / "src.safetensors", 8).read_bytes()
    final = daemon.inbox / "model.safetensors"
    final.touch()                                           # Firefox: 0-byte placeholder first
    part = daemon.inbox / "model.safetensors.part"
    with open(part, "wb") as f:
        for i in range(0, len(content), 1 << 20):
            f.write(content[i:i + (1 << 20)])
            f.flush()
    os.rename(part, final)                                   # then .part renamed over it
    jobs = daemon.wait_jobs(1)
    assert [(j["state"], Path(j["source"]).name) for j in jobs] == [("imported", "model.safetensors")]
    stored = daemon.library / jobs[0]["path"] / "model.safetensors"
    assert stored.read_bytes() == content and not final.exists()


def test_rsync_temp_then_rename_and_same_fs_mv(daemon: DaemonProcess, tmp_path: Path) -> None:
    temp = daemon.inbox / ".m.gguf.Xa12bc"
    write_gguf(temp, "llama", "Rsynced")
    os.rename(temp, daemon.inbox / "m.gguf")
    staged = write_safetensors(tmp_path / "moved.safetensors", "flux_dev")
    os.rename(staged, daemon.inbox / "moved.safetensors")     # same filesystem: no open, no close
    daemon.wait_jobs(2)
    assert imported_names(daemon) == ["m.gguf", "moved.safetensors"]
    assert os.listdir(daemon.inbox) == []


def test_slow_cp_is_imported_once_and_only_when_complete(daemon: DaemonProcess, tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "slow.safetensors", 6)
    data = src.read_bytes()
    dest = daemon.inbox / "slow.safetensors"
    with open(dest, "wb") as f:                              # a writer slower than the quiet period
        for i in range(0, len(data), 1 << 20):
            f.write(data[i:i + (1 << 20)])
            f.flush()
            time.sleep(0.3)                                   # the scenario, not synchronisation
    jobs = daemon.wait_jobs(1)
    assert [j["state"] for j in jobs] == ["imported"]
    assert digests(daemon.library / jobs[0]["path"] / "slow.safetensors") == digests(src)


def test_diffusers_folder_copied_file_by_file(daemon: DaemonProcess, tmp_path: Path) -> None:
    src = write_diffusers(tmp_path / "sdxl-pipe")
    dest = daemon.inbox / "sdxl-pipe"
    for path in sorted(src.rglob("*")):                       # like a slow file manager copy
        target = dest / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            time.sleep(0.1)                                   # the scenario, not synchronisation
    jobs = daemon.wait_jobs(1)
    assert [(j["state"], j["path"]) for j in jobs] == [("imported", "diffusers/sdxl/sdxl-pipe")]
    assert len(files_under(daemon.library / "diffusers/sdxl/sdxl-pipe")) == 9
    assert not dest.exists()


@pytest.mark.bad_input
def test_truncated_download_is_reported_not_imported(daemon: DaemonProcess, tmp_path: Path) -> None:
    cut = write_big_safetensors(tmp_path / "cut.safetensors", 2)
    os.truncate(cut, cut.stat().st_size - 1000)
    shutil.move(cut, daemon.inbox / "cut.safetensors")
    note = daemon.inbox / "failed" / "cut.safetensors.error.txt"
    wait_for(note.exists, 20, "the truncated file to be reported")
    text = note.read_text()
    assert "truncated" in text and "Download the file again" in text
    assert (daemon.inbox / "failed" / "cut.safetensors").exists()
    assert library_models(daemon) == []


@pytest.mark.bad_input
def test_a_file_that_is_not_a_model_goes_to_failed_with_a_reason(daemon: DaemonProcess) -> None:
    (daemon.inbox / "notes.txt").write_text("my prompts")
    jobs = daemon.wait_jobs(1)
    assert jobs[0]["state"] == "failed" and "not a model file type" in jobs[0]["error"]
    assert "not a model file type" in (daemon.inbox / "failed" / "notes.txt.error.txt").read_text()
    assert "not a model file type" in daemon.cli("status").stdout


def test_files_dropped_while_stopped_are_imported_at_start(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        d.inbox.mkdir(parents=True)
        for i, kind in enumerate(["clip_l", "t5xxl_fp16", "sdxl_vae"]):
            write_safetensors(d.inbox / f"{kind}.safetensors", kind, salt=i)
        d.start()
        d.wait_jobs(3)
        assert imported_names(d) == ["clip_l.safetensors", "sdxl_vae.safetensors", "t5xxl_fp16.safetensors"]
        assert len(library_models(d)) == 3


def test_each_file_is_imported_exactly_once_whatever_events_repeat(daemon: DaemonProcess, tmp_path: Path) -> None:
    path = daemon.inbox / "touchy.safetensors"
    write_safetensors(path, "easynegative")
    for _ in range(5):
        daemon.call("rescan")
    daemon.wait_jobs(1)
    write_safetensors(tmp_path / "marker.safetensors", "clip_l")
    shutil.move(tmp_path / "marker.safetensors", daemon.inbox / "marker.safetensors")
    jobs = daemon.wait_jobs(2)                                # a later arrival proves the queue moved on
    assert sorted(Path(j["source"]).name for j in jobs) == ["marker.safetensors", "touchy.safetensors"]


def test_second_daemon_refuses_and_cli_goes_through_the_daemon(daemon: DaemonProcess, tmp_path: Path) -> None:
    second = subprocess.run([sys.executable, "-m", "modelshelf", "--config", str(daemon.config), "daemon"],
                            env=daemon.env, capture_output=True, text=True, timeout=30)
    assert second.returncode == 2 and "the library is busy: modelshelf daemon (pid" in second.stderr
    src = write_gguf(tmp_path / "cli.gguf", "qwen2", "Qwen")
    out = daemon.cli("import", str(src))
    assert out.returncode == 0 and "imported   " in out.stdout and src.exists(), out.stderr
    assert "(by the daemon)" in daemon.cli("rebuild-index").stdout


def test_sigterm_mid_import_keeps_the_source(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path, extra_config="") as d:
        d.config.write_text(d.config.read_text().replace("drain_seconds = 10", "drain_seconds = 0"))
        d.start()
        big = write_big_safetensors(tmp_path / "big.safetensors", 600)
        before = digests(big)       # a move: cancelled midway, the source must still be whole
        threading.Thread(target=d.cli, args=("import", "--move", str(big)), daemon=True).start()
        wait_for(lambda: any(j["done_bytes"] > 0 for j in d.call("jobs")["running"]), 30, "the copy to start")
        assert d.stop(signal.SIGTERM) == 0
        assert "cancelling them (sources stay in place)" in d.logs()
        assert digests(big) == before
        assert files_under(d.library / ".modelshelf-tmp") == []


def test_polling_observer_imports_too(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        d.config.write_text(d.config.read_text().replace("[inbox]\n", '[inbox]\npolling = "always"\n'))
        d.start()
        write_safetensors(d.inbox / "polled.safetensors", "clip_vision_h")
        assert [j["state"] for j in d.wait_jobs(1)] == ["imported"]
        assert "by polling" in d.logs()


def test_duplicate_drop_is_reported_and_removed_after_hash_match(daemon: DaemonProcess, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "a.safetensors", "lora_flux")
    shutil.copy(src, daemon.inbox / "first.safetensors")
    daemon.wait_jobs(1)
    shutil.copy(src, daemon.inbox / "again.safetensors")
    jobs = daemon.wait_jobs(2)
    assert [j["state"] for j in jobs] == ["duplicate", "imported"]      # newest first
    assert os.listdir(daemon.inbox) == [] and len(library_models(daemon)) == 1


def test_two_daemons_with_different_state_dirs_cannot_share_a_library(daemon: DaemonProcess, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text(daemon.config.read_text().replace(str(tmp_path / "state"), str(tmp_path / "state2"))
                     .replace(str(daemon.socket), str(daemon.short / "other.sock")))
    second = subprocess.run([sys.executable, "-m", "modelshelf", "--config", str(other), "daemon"],
                            env=daemon.env, capture_output=True, text=True, timeout=30)
    assert second.returncode == 2 and ".modelshelf-lock" in second.stderr, second.stderr
