"""InvokeAI through the real Linker: an import while InvokeAI is down is recorded as pending (the
sync does not wait), the Linker's retry registers it once InvokeAI answers, and the delete cascade
unregisters it."""

from __future__ import annotations

import socket
from pathlib import Path

from modelshelf.apps import ApplyStatus, PlacementMethod
from modelshelf.config import AppConfig, AppKind
from modelshelf.links.maintenance import execute_delete, plan_delete
from modelshelf.shelf import Shelf

from ..conftest import make_config
from ..models import write_safetensors
from .fake_invokeai import FakeInvokeAI
from .library_models import import_file


def test_pending_while_down_registered_by_retry_and_unregistered_on_delete(tmp_path: Path):
    root = tmp_path / "invokeai"
    (root / "models").mkdir(parents=True)
    (root / "invokeai.yaml").write_text("schema_version: 4.0.2\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = make_config(tmp_path, reserve_mib=0)
    config = type(base)(paths=base.paths, imports=base.imports,
                        apps=(AppConfig(root=str(root), kind=AppKind.INVOKEAI, url=f"http://127.0.0.1:{port}"),))
    with Shelf(config, writer=True) as shelf:
        src = tmp_path / "src"
        src.mkdir()
        vae = import_file(shelf, write_safetensors(src / "sdxl_vae.safetensors", "sdxl_vae"))
        linker = shelf.linker()
        (result,) = linker.sync_model(shelf.index.get(vae.model_id))
        assert result.status is ApplyStatus.PENDING and "start InvokeAI" in result.detail
        assert [m for _, m, _ in shelf.registry.pending()] == [vae.model_id]
        with FakeInvokeAI(root, port=port) as invoke:
            assert linker.retry_pending().registered == ()        # its backoff has not passed yet
            assert linker.retry_pending(force=True).registered == (vae.model_id,)
            (key,) = invoke.records
            (row,) = shelf.registry.for_model(vae.model_id)
            assert (row.method, row.key) == (PlacementMethod.API, key) and shelf.registry.pending() == []
            execute_delete(plan_delete(shelf.index.get(vae.model_id), shelf.library, shelf.registry),
                           shelf.registry, shelf.index)
            assert invoke.records == {} and invoke.calls("DELETE", f"/api/v2/models/i/{key}") == 1
        assert shelf.registry.for_model(vae.model_id) == []
