"""Awkward names and entries dropped into a real daemon's inbox: imported under a safe name or
reported in failed/ with a reason; never a crash, a hang or a lost file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess


@pytest.mark.bad_input(4)
def test_awkward_names_and_a_symlink(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        d.inbox.mkdir(parents=True)
        outside = write_safetensors(tmp_path / "outside.safetensors", "clip_l")
        (d.inbox / "link.safetensors").symlink_to(outside)                       # not followed
        write_safetensors(d.inbox / 'what?: "a|b".safetensors', "lora_sdxl", salt=1)  # NTFS-forbidden
        long_name = "x" * (255 - len(".safetensors")) + ".safetensors"           # 255 bytes
        write_safetensors(d.inbox / long_name, "vae_flux", salt=2)
        bad_utf8 = os.fsencode(d.inbox) + b"/caf\xe9_lora.safetensors"            # latin-1, not UTF-8
        write_safetensors(Path(os.fsdecode(bad_utf8)), "easynegative", salt=3)
        d.start()
        jobs = d.wait_jobs(4)
        states = sorted((j["state"], Path(j["source"]).name[:20]) for j in jobs)
        assert [s for s, _ in states].count("imported") == 3, states
        failed = [j for j in jobs if j["state"] == "failed"]
        assert len(failed) == 1 and "is a symlink" in failed[0]["error"]
        assert outside.exists()                                                   # its target untouched
        assert (d.inbox / "failed" / "link.safetensors.error.txt").exists()
        paths = {m["path"] for m in d.call("models")}
        assert "lora/sdxl/what__ _a_b_" in paths
        assert any(p.startswith("embedding/sd15/caf") for p in paths)             # a replacement character
        assert all(len(p.split("/")[-1].encode()) <= 255 for p in paths)
        assert d.stop() == 0
