"""Folders written by `hf download --local-dir` and `git clone`: arrival waits for the tool to
finish (not for its lock files), and the daemon imports them without their bookkeeping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelshelf.inbox import Arrival, ArrivalTracker, EventKind, IgnoreRules
from modelshelf.inbox.inspect import self_check, signature_of
from modelshelf.library import read_metadata

from ..helpers import files_under
from ..hub.fake_hub import FakeHub
from ..ingest.tool_folders import git_clone, hf_download, repo_contents, serve
from ..service.daemon_proc import DaemonProcess

# huggingface_hub's file being downloaded: <sha1 of the name, base64>.<etag>.<8 hex>.incomplete
RUNNING = ".cache/huggingface/download/vae/Y2FjaGU=.0123abcd.1a2b3c4d.incomplete"
QUIET = 2.0


@pytest.fixture
def hub():
    h = FakeHub()
    yield h
    h.stop()


@pytest.fixture
def downloaded(hub: FakeHub, tmp_path: Path) -> Path:
    serve(hub, "org/sdxl-pipe", repo_contents(tmp_path))
    return hf_download(hub, "org/sdxl-pipe", tmp_path / "inbox" / "sdxl-pipe", tmp_path / "hf")


@pytest.mark.parametrize("patterns", [None, ("*.part", "*.tmp")])
def test_a_download_still_running_holds_the_folder_whatever_the_ignore_patterns(
        downloaded: Path, patterns: tuple[str, ...] | None) -> None:
    rules = IgnoreRules() if patterns is None else IgnoreRules(patterns)
    assert signature_of(downloaded, rules).partial_files == 0     # lock files and metadata left behind
    (downloaded / RUNNING).write_bytes(b"partial weights")
    assert signature_of(downloaded, rules).partial_files == 1


def test_a_finished_download_arrives_once_quiet_despite_its_lock_files(downloaded: Path) -> None:
    inbox = downloaded.parent
    tracker = ArrivalTracker(inbox, quiet_seconds=QUIET, incomplete_after=30, ignore=IgnoreRules())
    now = 0.0

    def poll(advance: float) -> list:
        nonlocal now
        now += advance
        return tracker.poll(now, lambda p: signature_of(p, IgnoreRules()), self_check)

    lock = downloaded / ".cache/huggingface/download/vae/diffusion_pytorch_model.safetensors.lock"
    weights, running = downloaded / "vae" / "diffusion_pytorch_model.safetensors", downloaded / RUNNING
    os.replace(weights, running)              # the VAE weights are still being written under their tmp name
    for path, kind in ((downloaded, EventKind.CREATED), (lock, EventKind.OPENED), (running, EventKind.OPENED),
                       (running, EventKind.MODIFIED)):
        tracker.observe(path, kind, now)
    assert [poll(1.0) for _ in range(int(QUIET * 10))] == [[]] * int(QUIET * 10)   # the download is not done
    os.replace(running, weights)              # done: renamed into place; the lock file stays
    tracker.observe(running, EventKind.DELETED, now)
    tracker.observe(weights, EventKind.MOVED_IN, now)
    arrived = [d for _ in range(int(QUIET * 3)) for d in poll(1.0)]
    assert [type(d) for d in arrived] == [Arrival] and arrived[0].path == downloaded
    assert lock.exists()                                           # the lock file did not hold it back


def test_the_daemon_imports_an_hf_download_and_a_git_clone_and_empties_the_inbox(
        hub: FakeHub, tmp_path: Path) -> None:
    contents = repo_contents(tmp_path)
    serve(hub, "org/sdxl-pipe", contents)
    other = repo_contents(tmp_path, "other-src")
    other["model_index.json"] = other["model_index.json"].replace(b"StableDiffusionXL", b"StableDiffusion")
    origin = tmp_path / "origin"
    (tmp_path / "d").mkdir()
    with DaemonProcess(tmp_path / "d") as d:
        d.start()
        hf_download(hub, "org/sdxl-pipe", d.inbox / "sdxl-pipe", tmp_path / "hf")   # straight into the inbox
        git_clone(other, origin, d.inbox / "sd15-clone")
        jobs = d.wait_jobs(2, timeout=60)
        assert sorted((j["state"], Path(j["source"]).name) for j in jobs) == [
            ("imported", "sd15-clone"), ("imported", "sdxl-pipe")]
        assert os.listdir(d.inbox) == []
        for job in jobs:
            folder = d.library / job["path"]
            names = [f.name for f in read_metadata(folder / "metadata.json").files]
            assert names == sorted(contents) and files_under(folder) == sorted([*contents, "metadata.json"])
        assert "ERROR" not in d.logs()
