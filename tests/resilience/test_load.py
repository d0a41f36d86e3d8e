"""Load: 1,000 small model files dropped at once into the real daemon."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from modelshelf.service.rpc import call

from .. import tally
from ..helpers import wait_for
from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess

FILES = int(os.environ.get("MODELSHELF_LOAD_FILES", "1000"))


def test_a_thousand_files_at_once(tmp_path: Path) -> None:
    staging = tmp_path / "downloads"
    staging.mkdir()
    for i in range(FILES):
        write_safetensors(staging / f"emb_{i:04d}.safetensors", "easynegative", salt=i)
    with DaemonProcess(tmp_path) as d:
        d.start()
        daemon = psutil.Process(d.proc.pid)
        for path in staging.iterdir():                 # all at once: same-filesystem moves
            os.rename(path, d.inbox / path.name)
        slowest, peak_rss, polls = 0.0, 0, 0

        def done() -> bool:
            nonlocal slowest, peak_rss, polls
            started = time.perf_counter()
            status = call(d.socket, "status")
            slowest = max(slowest, time.perf_counter() - started)
            peak_rss = max(peak_rss, daemon.memory_info().rss)
            polls += 1
            return status["counts"].get("imported", 0) >= FILES

        wait_for(done, 600, f"{FILES} imports")
        status = call(d.socket, "status")
        assert status["counts"] == {"imported": FILES} and status["models"] == FILES
        assert 10 < status["rss_mb"] < 200                  # the daemon reports its own memory
        assert [p for p in d.inbox.iterdir()] == []
        assert d.stop() == 0
    assert peak_rss < 200e6 and slowest < 5.0
    tally.report(f"load: {FILES} files imported once each; peak RSS {peak_rss / 1e6:.0f} MB; "
                 f"{polls} status calls during the run, slowest {slowest * 1000:.0f} ms")
    tally.count(tally.CHECKED, FILES)
