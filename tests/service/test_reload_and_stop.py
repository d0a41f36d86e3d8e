"""Reloads and stops of the real daemon while it imports: one job per file whatever the signals,
a reload that applies the new configuration live, and a second stop signal that cancels a drain."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from modelshelf.config import ImportMode, ServiceConfig
from modelshelf.errors import ShuttingDownError
from modelshelf.ingest import ImportJob
from modelshelf.service.daemon import Daemon
from modelshelf.service.rpc import call

from ..conftest import make_config
from ..helpers import files_under, sha256, wait_for
from ..links.conftest import MODERN, comfy
from ..models import write_big_safetensors, write_safetensors
from ..mounts import tmpfs
from .daemon_proc import DaemonProcess

MIB = 1 << 20
ONE_MIB_CHUNKS = "[import]\nbuffer_mib = 1\nbuffers = 2\nreserve_mib = 0\n"


def need_strace() -> None:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")


def slowed_reads(log: Path, source: Path, micros: int = 40_000) -> list[str]:
    """Run the daemon under strace, each read of `source` delayed: a copy long enough to signal into."""
    return ["strace", "-f", "-qq", "--seccomp-bpf", "-o", str(log), "-P", str(source),
            "-e", "trace=preadv2", "-e", f"inject=preadv2:delay_enter={micros}"]


def copying(d: DaemonProcess, name: str) -> bool:
    return any(Path(j["source"]).name == name and j["phase"] == "copying" and j["done_bytes"] > 0
               for j in d.call("jobs")["running"])


def test_reloads_during_an_import_make_exactly_one_job(tmp_path: Path) -> None:
    """Before the pipeline owned the in-progress set, the watcher a reload made offered the file
    again: a second job failed with "it does not exist" after the first imported it."""
    need_strace()
    with tmpfs(tmp_path / "inbox", "128m") as inbox:     # another filesystem: the move is a read + copy
        src = inbox / "huge.safetensors"
        with DaemonProcess(tmp_path, extra_config=ONE_MIB_CHUNKS,
                           prefix=slowed_reads(tmp_path / "strace.log", src)) as d:
            d.start()
            shutil.move(write_big_safetensors(tmp_path / "huge.safetensors", 48), src)
            wait_for(lambda: copying(d, src.name), 60, "the import to be under way")
            for _ in range(2):
                d.notify.messages.clear()
                os.kill(d.pid, signal.SIGHUP)
                d.notify.wait_for_field("READY", "1")
            assert copying(d, src.name), "the import must still be running after the reloads"
            assert [j["state"] for j in d.wait_jobs(1, 120)] == ["imported"]
            d.call("rescan")                     # offered again now, it would make a second job
            wait_for(lambda: not d.call("jobs")["queued"] and not d.call("jobs")["running"], 10, "an idle daemon")
            assert [(j["state"], j["error"]) for j in d.finished_jobs()] == [("imported", None)]
            assert d.call("status")["models"] == 1 and not src.exists()
            assert "ERROR" not in d.logs() and "does not exist" not in d.logs()


def test_reload_applies_apps_and_import_settings_and_names_what_needs_a_restart(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI", MODERN)
    with DaemonProcess(tmp_path) as d:
        d.start()
        shutil.copy(write_safetensors(tmp_path / "style.safetensors", "lora_sdxl"), d.inbox / "style.safetensors")
        d.wait_jobs(1)
        link = install / "models" / "loras" / "style.safetensors"
        assert not link.exists()                                  # no app configured yet
        text = d.config.read_text()
        text = text.replace(f'library = "{d.library}"', f'library = "{tmp_path / "elsewhere"}"')
        d.config.write_text(text + f'\n[[apps]]\nroot = "{install}"\n[import]\nmode = "move"\n')
        d.notify.messages.clear()
        os.kill(d.pid, signal.SIGHUP)
        d.notify.wait_for_field("READY", "1")
        wait_for(link.is_symlink, 20, "the new install's link after the reload")
        assert sha256(link) == sha256(d.library / d.finished_jobs()[0]["path"] / "style.safetensors")
        logs = d.logs()
        assert "paths.library changed: it takes effect at the next restart" in logs
        assert re.search(r"configuration reloaded from .*; applied imports\.mode, apps$", logs, re.M), logs
        assert d.call("status")["library"] == str(d.library)      # still the library it opened
        assert not (tmp_path / "elsewhere").exists()


def test_a_second_stop_signal_cancels_the_drain_and_loses_nothing(tmp_path: Path) -> None:
    need_strace()
    with tmpfs(tmp_path / "inbox", "128m") as inbox:
        src = inbox / "big.safetensors"
        with DaemonProcess(tmp_path, extra_config=ONE_MIB_CHUNKS,
                           prefix=slowed_reads(tmp_path / "strace.log", src, 100_000)) as d:
            d.config.write_text(d.config.read_text().replace("drain_seconds = 10", "drain_seconds = 600"))
            d.start()
            shutil.move(write_big_safetensors(tmp_path / "big.safetensors", 48), src)
            before = sha256(src)
            wait_for(lambda: copying(d, src.name), 60, "the import to be under way")
            os.kill(d.pid, signal.SIGTERM)
            wait_for(lambda: "stop again to cancel now" in d.logs(), 20, "the drain to begin")
            started = time.monotonic()
            os.kill(d.pid, signal.SIGTERM)
            assert d.proc is not None
            assert d.proc.wait(timeout=60) == 0
            assert time.monotonic() - started < 60       # not the 600 s drain (48 MiB at 10 MiB/s: 5 s)
            assert "cancelling the running imports now" in d.logs()
        assert sha256(src) == before                        # the source stayed, whole
        assert [p for p in files_under(d.library) if not p.startswith(".modelshelf")] == []


def test_run_restores_the_signal_handlers_and_the_queues_refuse_work_after_stop(tmp_path: Path) -> None:
    """In this process, so what the daemon leaves behind is visible: the handlers it found are back,
    and its stopped pipeline refuses a job instead of queueing it for workers that are gone."""
    config = dataclasses.replace(make_config(tmp_path), service=ServiceConfig(socket=tmp_path / "s.sock"))
    found = {s: signal.signal(s, lambda *a: None) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    mine = {s: signal.getsignal(s) for s in found}
    try:
        daemon = Daemon(config)

        def stop_when_serving() -> None:
            wait_for(lambda: (tmp_path / "s.sock").exists() and call(tmp_path / "s.sock", "status"), 20, "the socket")
            os.kill(os.getpid(), signal.SIGTERM)

        stopper = threading.Thread(target=stop_when_serving)
        stopper.start()
        assert daemon.run() == 0
        stopper.join()
        assert {s: signal.getsignal(s) for s in mine} == mine
        with pytest.raises(ShuttingDownError, match="the daemon is stopping"):
            daemon.pipeline.submit(ImportJob(tmp_path / "late.safetensors", ImportMode.COPY), None)
        assert daemon.board.jobs()["queued"] == []
    finally:
        for s, handler in found.items():
            signal.signal(s, handler)
