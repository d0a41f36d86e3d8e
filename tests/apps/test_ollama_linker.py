"""Ollama through the real Linker and delete cascade: the registry rows it records, an idempotent
re-sync, and a delete that leaves Ollama's folder as its own prune would."""

from __future__ import annotations

import time
from pathlib import Path

from modelshelf.apps import ApplyStatus, PlacementMethod
from modelshelf.config import AppConfig, AppKind
from modelshelf.links.maintenance import execute_delete, plan_delete
from modelshelf.shelf import Shelf

from ..conftest import make_config
from ..models import write_gguf, write_safetensors
from .fake_ollama import GRACE_SECONDS, FakeOllama, manifest_files, parse_manifest, prune_at_startup
from .library_models import import_file


def test_sync_records_blob_and_manifest_rows_and_delete_removes_both(tmp_path: Path):
    models = tmp_path / "ollama-models"
    (models / "blobs").mkdir(parents=True)
    with FakeOllama(models) as server:
        config = make_config(tmp_path, reserve_mib=0)
        config = type(config)(paths=config.paths, imports=config.imports,
                              apps=(AppConfig(root=str(models), kind=AppKind.OLLAMA, url=server.url),))
        with Shelf(config, writer=True) as shelf:
            src = tmp_path / "src"
            src.mkdir()
            llm = import_file(shelf, write_gguf(src / "Qwen2.5-7B-Instruct-Q5_K_M.gguf", "qwen2"))
            lora = import_file(shelf, write_safetensors(src / "detail.safetensors", "lora_sdxl"))
            linker = shelf.linker()
            results = linker.sync_model(shelf.index.get(llm.model_id))
            assert [r.status for r in results] == [ApplyStatus.CREATED, ApplyStatus.CREATED]
            assert linker.sync_model(shelf.index.get(lora.model_id)) == []      # not a model Ollama runs
            rows = shelf.registry.for_model(llm.model_id)
            assert [(r.method, r.key) for r in rows] == [(PlacementMethod.BLOB, "qwen2.5-7b-instruct:q5_k_m"),
                                                         (PlacementMethod.MANIFEST, "qwen2.5-7b-instruct:q5_k_m")]
            assert [r.status for r in linker.sync_model(shelf.index.get(llm.model_id))] == [ApplyStatus.PRESENT] * 2
            assert server.calls("POST", "/api/create") == 0
            assert {m["name"] for m in server._tags()[1]["models"]} == {"qwen2.5-7b-instruct:q5_k_m"}
            assert prune_at_startup(models, now=time.time() + 2 * GRACE_SECONDS) == set()
            parse_manifest(manifest_files(models)[0][1])

            execute_delete(plan_delete(shelf.index.get(llm.model_id), shelf.library, shelf.registry),
                           shelf.registry, shelf.index)
            assert manifest_files(models) == [] and list((models / "blobs").iterdir()) == []
            assert shelf.registry.for_model(llm.model_id) == [] and shelf.index.get(llm.model_id) is None
            assert server._tags()[1]["models"] == []
