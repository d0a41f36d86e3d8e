from __future__ import annotations

import shutil
from pathlib import Path

from ..helpers import digests, wait_for
from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess
from .fake_hub import FakeHub, FakeRepo

HUB_ONLY = '[identify]\nproviders = ["hub"]\n'          # these tests are about the Hub alone


def test_daemon_looks_models_up_after_import(tmp_path: Path) -> None:
    hub = FakeHub()
    try:
        src = write_safetensors(tmp_path / "epic_lora.safetensors", "lora_sdxl")
        hub.add(FakeRepo("artist/epic_lora", {"epic_lora.safetensors": (src.stat().st_size, digests(src)[1])}))
        with DaemonProcess(tmp_path, HUB_ONLY, env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.endpoint}) as d:
            d.start()
            shutil.copy(src, d.inbox / "epic_lora.safetensors")
            job = d.wait_jobs(1)[0]
            wait_for(lambda: d.call("status")["hub"]["pending"] == 0 and d.call("status")["hub"]["calls"] >= 2,
                     20, "the lookup")
            shown = d.call("model", {"id": job["model_id"]})["model"]
            assert shown["hub_repo_id"] == "artist/epic_lora" and not shown["pending_online_lookup"]
            status = d.call("status")["hub"]
            assert (status["state"], status["endpoint"]) == ("online", hub.endpoint)
            assert "hub       online · 0 pending" in d.cli("status").stdout
            assert "queued 0 Hub lookups" in d.cli("retry-lookups").stdout
    finally:
        hub.stop()


def test_offline_daemon_keeps_models_pending_and_cli_retries_later(tmp_path: Path) -> None:
    hub = FakeHub()
    try:
        src = write_safetensors(tmp_path / "later_lora.safetensors", "lora_flux")
        with DaemonProcess(tmp_path, HUB_ONLY, env={"HF_ENDPOINT": hub.endpoint}) as d:   # offline (conftest)
            d.start()
            shutil.copy(src, d.inbox / "later_lora.safetensors")
            d.wait_jobs(1)
            wait_for(lambda: d.call("status")["hub"]["state"] == "offline", 10, "offline state")
            assert d.call("status")["hub"]["pending"] == 1 and hub.api_calls() == 0
        hub.add(FakeRepo("o/later_lora", {"later_lora.safetensors": (src.stat().st_size, digests(src)[1])}))
        d.env["HF_HUB_OFFLINE"] = "0"                                   # back online, daemon stopped
        out = d.cli("retry-lookups")
        assert out.returncode == 0 and "matched" in out.stdout, out.stderr
    finally:
        hub.stop()
