"""InvokeAI with the real daemon: an import is registered in InvokeAI by the daemon's registration
round started right after it (the import itself never waits on InvokeAI), and while InvokeAI is
down the registration waits and is made once it answers."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from ..helpers import wait_for
from ..models import write_safetensors
from ..service.daemon_proc import DaemonProcess
from .fake_invokeai import FakeInvokeAI


def invokeai_root(tmp_path: Path) -> Path:
    root = tmp_path / "invokeai"
    (root / "models").mkdir(parents=True)
    (root / "invokeai.yaml").write_text("schema_version: 4.0.2\n")
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_daemon_registers_imports_in_invokeai_without_holding_them_up(tmp_path: Path) -> None:
    root, port = invokeai_root(tmp_path), free_port()
    apps = f'[[apps]]\nkind = "invokeai"\nroot = "{root}"\nurl = "http://127.0.0.1:{port}"\n'
    with DaemonProcess(tmp_path, extra_config=apps) as d:
        d.start()
        with FakeInvokeAI(root, port=port) as invoke:
            shutil.copy(write_safetensors(tmp_path / "sdxl_vae.safetensors", "sdxl_vae"),
                        d.inbox / "sdxl_vae.safetensors")
            d.wait_jobs(1)
            wait_for(lambda: len(invoke.records) == 1, 20, "the registration round started by the import")
            (record,) = invoke.records.values()
            assert Path(record["path"]).is_relative_to(d.library)             # in place: the library's file
            assert not any((root / "models").rglob("*.safetensors"))          # nothing in InvokeAI's tree
        # InvokeAI stops: the next import completes at once, its registration waits for InvokeAI
        shutil.copy(write_safetensors(tmp_path / "vae2.safetensors", "sdxl_vae", salt=1),
                    d.inbox / "vae2.safetensors")
        jobs = d.wait_jobs(2)
        assert [j["state"] for j in jobs] == ["imported", "imported"]
        wait_for(lambda: "start InvokeAI (modelshelf retries on its own)" in d.logs(), 20,
                 "one line naming InvokeAI and the remedy")
        assert "Traceback" not in d.logs()
