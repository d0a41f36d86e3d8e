from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..helpers import wait_for
from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess
from .conftest import MODERN, OLDER, comfy


def test_daemon_links_after_import_and_into_new_installs(tmp_path: Path) -> None:
    versions = tmp_path / "comfyui-versions"
    first = comfy(versions / "v1", MODERN)
    with DaemonProcess(tmp_path, extra_config=f'[[apps]]\nroot = "{versions}/*"\n') as d:
        d.start()
        shutil.copy(write_safetensors(tmp_path / "style.safetensors", "lora_sdxl"), d.inbox / "style.safetensors")
        d.wait_jobs(1)
        link = first / "models" / "loras" / "style.safetensors"
        wait_for(link.exists, 10, "the link after the import")
        second = comfy(versions / "v2", OLDER)                       # a new ComfyUI version appears
        wait_for((second / "models" / "loras" / "style.safetensors").exists, 20, "the new install's link")
        health = d.call("health")
        assert health["status"] == "healthy" and health["links_checked"] == 2
        out = d.cli("delete", "style")
        assert out.returncode == 0 and "and 2 links to it" in out.stdout, out.stderr
        assert not link.exists() and d.call("status")["models"] == 0


def test_cli_sync_health_and_exit_codes(tmp_path: Path) -> None:
    versions = tmp_path / "comfyui-versions"
    install = comfy(versions / "v1", MODERN)
    with DaemonProcess(tmp_path, extra_config=f'[[apps]]\nroot = "{versions}/*"\n') as d:  # never started
        assert d.cli("import", str(write_safetensors(tmp_path / "a.safetensors", "clip_l"))).returncode == 0
        out = d.cli("sync")
        assert out.returncode == 0 and "1 created across 1 app installs" in out.stdout, out.stderr
        (install / "models" / "text_encoders" / "a.safetensors").unlink()
        out = d.cli("health", "--json")
        assert out.returncode == 1 and json.loads(out.stdout)["status"] == "errors"
        out = d.cli("health", "--fix", "--dry-run")
        assert "broken" in out.stdout and "→ recreate it" in out.stdout
        assert not (install / "models" / "text_encoders" / "a.safetensors").exists()
        out = d.cli("health", "--fix")
        assert out.returncode == 0 and "errors, now healthy" in out.stdout, out.stdout
        assert (install / "models" / "text_encoders" / "a.safetensors").is_symlink()
