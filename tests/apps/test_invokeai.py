"""The InvokeAI adapter against a fake of InvokeAI's model-install API (fake_invokeai.py), with
registry.db's real pending table for registrations that wait for InvokeAI to start."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from modelshelf.apps.base import AdapterEnv, ApplyStatus, PlacementMethod, Problem
from modelshelf.apps.http_json import MAX_ANSWER_BYTES, AppApiError, Failure
from modelshelf.apps.invokeai import InvokeAIAdapter
from modelshelf.apps.invokeai_api import InvokeAIApi
from modelshelf.apps.pending import FIRST_DELAY, PendingRegistrations
from modelshelf.config import AppConfig, AppKind
from modelshelf.links.registry import LinkRegistry
from modelshelf.shelf import Shelf

from ..conftest import make_config
from ..helpers import sha256
from ..models import write_gguf, write_safetensors
from .fake_invokeai import FakeInvokeAI
from .library_models import import_file


@pytest.fixture
def shelf(tmp_path: Path):
    with Shelf(make_config(tmp_path, reserve_mib=0), writer=True) as s:
        yield s


@pytest.fixture
def invoke_root(tmp_path: Path) -> Path:
    """An InvokeAI root as its installer lays it out."""
    root = tmp_path / "home" / "invokeai"
    (root / "models").mkdir(parents=True)
    (root / "databases").mkdir()
    (root / "invokeai.yaml").write_text("# Internal metadata - do not edit:\nschema_version: 4.0.2\n")
    return root


@pytest.fixture
def checkpoint(shelf, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    return import_file(shelf, write_safetensors(src / "juggernautXL.safetensors", "checkpoint_sdxl"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def adapter_for(shelf, timeout: float = 2.0, install_wait: float = 10.0) -> InvokeAIAdapter:
    return InvokeAIAdapter(AdapterEnv(shelf.library.root, None, timeout), install_wait=install_wait)


def install_at(adapter, root: Path, url: str):
    (install,) = adapter.find_installs(AppConfig(root=str(root), kind=AppKind.INVOKEAI, url=url))
    return install


def register(adapter, install, model):
    (placement,) = adapter.plan(install, model)
    return adapter.apply(install, placement)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_install_in_place_waits_for_the_job_and_records_the_key(shelf, invoke_root, checkpoint):
    library_file = checkpoint.folder / checkpoint.primary_file
    inode = os.stat(library_file).st_ino
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
        (key,) = invoke.records
        assert done.status is ApplyStatus.CREATED
        assert done.record.key == key and done.record.method is PlacementMethod.API
        assert done.record.target == f"api:{checkpoint.model_id}"
        assert invoke.records[key]["path"] == str(library_file)
        (post,) = [p for m, p in invoke.requests if m == "POST"]
        assert "inplace=true" in post
        assert invoke.calls("GET", "/api/v2/models/install/1") == 2     # polled until completed
    assert os.stat(library_file).st_ino == inode and sha256(library_file) == checkpoint.sha256
    assert list((invoke_root / "models").iterdir()) == []               # nothing put in InvokeAI's tree


def test_invokeai_down_then_up_registers_later_and_survives_a_restart(shelf, tmp_path, invoke_root, checkpoint):
    port = free_port()
    adapter = adapter_for(shelf)
    install = install_at(adapter, invoke_root, f"http://127.0.0.1:{port}")
    registry_path = tmp_path / "state" / "registry.db"
    registry = LinkRegistry(registry_path)
    clock = Clock()
    pending = PendingRegistrations(registry, clock)
    started = time.monotonic()
    waiting = register(adapter, install, checkpoint)
    assert time.monotonic() - started < 2                                  # the import does not wait on it
    assert waiting.status is ApplyStatus.PENDING and waiting.record is None
    assert waiting.detail.startswith(f"InvokeAI at http://127.0.0.1:{port}: cannot connect")
    assert "start InvokeAI" in waiting.detail and "\n" not in waiting.detail
    pending.defer(str(install.root), checkpoint.model_id, waiting.detail)
    registry.close()

    registry = LinkRegistry(registry_path)                                 # the daemon restarted
    pending = PendingRegistrations(registry, clock)
    resolve = {str(install.root): (adapter, install)}.get
    models = {checkpoint.model_id: checkpoint}.get
    assert pending.retry(resolve, models).waiting == 1                     # still down: stays pending
    assert [row[1] for row in registry.pending()] == [checkpoint.model_id]
    with FakeInvokeAI(invoke_root, port=port) as invoke:
        assert pending.retry(resolve, models).registered == ()            # backed off: no request yet
        assert invoke.requests == []
        clock.now += FIRST_DELAY
        report = pending.retry(resolve, models)
        (key,) = invoke.records
    assert report.registered == (checkpoint.model_id,) and report.waiting == 0
    (row,) = registry.for_model(checkpoint.model_id)
    assert row.key == key and row.method is PlacementMethod.API and registry.pending() == []
    registry.close()


@pytest.mark.bad_input
def test_garbage_answer_is_one_line_and_retried(shelf, tmp_path, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    registry = LinkRegistry(tmp_path / "registry.db")
    clock = Clock()
    pending = PendingRegistrations(registry, clock)
    with FakeInvokeAI(invoke_root, garbage=True) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        waiting = register(adapter, install, checkpoint)
        assert waiting.status is ApplyStatus.PENDING and "\n" not in waiting.detail
        assert waiting.detail.startswith(f"InvokeAI at {invoke.url}:") and "check that" in waiting.detail
        pending.defer(str(install.root), checkpoint.model_id, waiting.detail)
        invoke.garbage = False
        clock.now += FIRST_DELAY
        report = pending.retry({str(install.root): (adapter, install)}.get, {checkpoint.model_id: checkpoint}.get)
        assert report.registered == (checkpoint.model_id,) and len(invoke.records) == 1
    registry.close()


@pytest.mark.bad_input
def test_oversized_answer_is_refused_not_read_whole(invoke_root):
    with FakeInvokeAI(invoke_root) as invoke:
        invoke.records["k"] = {"key": "k", "path": "/x", "name": "n", "description": "x" * (MAX_ANSWER_BYTES + 10)}
        with pytest.raises(AppApiError) as caught:
            InvokeAIApi(invoke.url, 2.0).models()
    assert caught.value.failure is Failure.GARBAGE and "larger than" in str(caught.value)


@pytest.mark.bad_input
def test_a_server_that_never_answers_is_pending_after_one_timeout(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf, timeout=0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        install = install_at(adapter, invoke_root, f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        waiting = register(adapter, install, checkpoint)
    assert time.monotonic() - started < 3
    assert waiting.status is ApplyStatus.PENDING and "no answer within 0.3 s" in waiting.detail


def test_a_job_still_running_at_the_bound_is_pending_then_registered(shelf, tmp_path, invoke_root, checkpoint):
    registry = LinkRegistry(tmp_path / "registry.db")
    clock = Clock()
    pending = PendingRegistrations(registry, clock)
    with FakeInvokeAI(invoke_root) as invoke:
        slow = adapter_for(shelf, install_wait=0.0)
        install = install_at(slow, invoke_root, invoke.url)
        waiting = register(slow, install, checkpoint)
        assert waiting.status is ApplyStatus.PENDING and "still waiting" in waiting.detail
        pending.defer(str(install.root), checkpoint.model_id, waiting.detail)
        clock.now += FIRST_DELAY
        adapter = adapter_for(shelf)
        report = pending.retry({str(install.root): (adapter, install)}.get, {checkpoint.model_id: checkpoint}.get)
        assert report.registered == (checkpoint.model_id,) and len(invoke.records) == 1
    registry.close()


def test_already_registered_path_adopts_invokeais_key(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        first = register(adapter, install, checkpoint)
        again = register(adapter, install, checkpoint)
        assert again.status is ApplyStatus.PRESENT and again.record.key == first.record.key
        assert len(invoke.records) == 1


def test_delete_unregisters_and_leaves_the_library_file(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
        adapter.undo(install, done.record)
        assert invoke.records == {} and invoke.calls("DELETE", "/api/v2/models/i/") == 1
        adapter.undo(install, done.record)                              # again: already gone, no error
    assert sha256(checkpoint.folder / checkpoint.primary_file) == checkpoint.sha256


def test_undo_leaves_a_key_that_now_names_another_file(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
        invoke.records[done.record.key]["path"] = str(invoke_root / "models" / "users-own.safetensors")
        adapter.undo(install, done.record)
        assert done.record.key in invoke.records and invoke.calls("DELETE", "/") == 0


def test_undo_while_invokeai_is_down_raises_so_the_row_is_kept(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
    with pytest.raises(AppApiError) as caught:
        adapter.undo(install, done.record)
    assert caught.value.retryable


def test_registration_whose_file_is_gone_is_a_health_finding_fixed_by_unregistering(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
        assert adapter.check(install, done.record) is None
        (checkpoint.folder / checkpoint.primary_file).unlink()
        finding = adapter.check(install, done.record)
        assert finding.problem is Problem.BROKEN and "the file is gone" in finding.detail
        assert adapter.fix(install, finding) is False                    # the row is forgotten
        assert invoke.records == {}


def test_a_key_removed_in_invokeai_is_found_and_registered_again_next_sync(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
        invoke.records.clear()                                           # the user removed it in InvokeAI
        finding = adapter.check(install, done.record)
        assert finding.problem is Problem.BROKEN and "no longer has" in finding.detail
        assert adapter.fix(install, finding) is False
        assert register(adapter, install, checkpoint).status is ApplyStatus.CREATED
    # InvokeAI down: health reports it offline, nothing is changed
    finding = adapter.check(install, done.record)
    assert finding.problem is Problem.OFFLINE_APP and finding.fix is None


def test_a_model_invokeai_refuses_is_an_error_and_dropped_from_pending(shelf, tmp_path, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    registry = LinkRegistry(tmp_path / "registry.db")
    clock = Clock()
    pending = PendingRegistrations(registry, clock)
    with FakeInvokeAI(invoke_root, fail_jobs="Unable to determine model type") as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        refused = register(adapter, install, checkpoint)
        assert refused.status is ApplyStatus.ERROR and "Unable to determine model type" in refused.detail
        pending.defer(str(install.root), checkpoint.model_id, "was down")
        clock.now += FIRST_DELAY
        report = pending.retry({str(install.root): (adapter, install)}.get, {checkpoint.model_id: checkpoint}.get)
    assert report.dropped == (checkpoint.model_id,) and registry.pending() == []
    registry.close()


def test_a_library_inside_invokeais_root_is_refused_without_a_request(tmp_path, invoke_root):
    config = make_config(tmp_path, library=invoke_root / "models" / "shelf", reserve_mib=0)
    with Shelf(config, writer=True) as inside:
        src = tmp_path / "src"
        src.mkdir()
        model = import_file(inside, write_safetensors(src / "lora.safetensors", "lora_sdxl"))
        adapter = adapter_for(inside)
        with FakeInvokeAI(invoke_root) as invoke:
            refused = register(adapter, install_at(adapter, invoke_root, invoke.url), model)
            assert invoke.requests == []
    assert refused.status is ApplyStatus.ERROR and "keep the library outside" in refused.detail


def test_language_models_do_not_go_to_invokeai(shelf, tmp_path, invoke_root):
    src = tmp_path / "src"
    src.mkdir()
    llm = import_file(shelf, write_gguf(src / "Llama-3-8B.Q4_K_M.gguf", "llama"))
    adapter = adapter_for(shelf)
    assert adapter.plan(install_at(adapter, invoke_root, "http://127.0.0.1:9"), llm) == ()


def test_find_installs_by_invokeai_yaml(tmp_path, shelf, monkeypatch):
    adapter = adapter_for(shelf)
    bare = tmp_path / "not-invoke"
    bare.mkdir()
    assert adapter.find_installs(AppConfig(root=str(bare), kind=AppKind.INVOKEAI)) == []
    (bare / "invokeai.yaml").write_text("schema_version: 4.0.2\n")
    (install,) = adapter.find_installs(AppConfig(root=str(bare), kind=AppKind.INVOKEAI))
    assert install.url == "http://127.0.0.1:9090"
    monkeypatch.setenv("MODELSHELF_INVOKEAI_URL", "http://127.0.0.1:19090")
    (install,) = adapter.find_installs(AppConfig(root=str(bare), kind=AppKind.INVOKEAI))
    assert install.url == "http://127.0.0.1:19090"


@pytest.mark.bad_input
def test_a_url_modelshelf_cannot_speak_is_a_config_error_not_retried(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    refused = register(adapter, install_at(adapter, invoke_root, "https://127.0.0.1:9090"), checkpoint)
    assert refused.status is ApplyStatus.ERROR and "fix the app's url" in refused.detail


def test_the_adapter_is_built_through_the_framework(shelf):
    from modelshelf.apps import Adapter, build_adapter

    adapter = build_adapter(AppKind.INVOKEAI, AdapterEnv(shelf.library.root, None))
    assert isinstance(adapter, InvokeAIAdapter) and isinstance(adapter, Adapter)


def test_unregistering_a_gone_file_while_invokeai_is_down_keeps_the_row(shelf, invoke_root, checkpoint, caplog):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        done = register(adapter, install, checkpoint)
    (checkpoint.folder / checkpoint.primary_file).unlink()
    finding = adapter.check(install, done.record)
    assert finding.problem is Problem.BROKEN
    assert adapter.fix(install, finding) is True                         # kept: unregistered at a later fix
    assert any("InvokeAI at" in r.getMessage() for r in caplog.records)


def test_a_job_invokeai_forgot_in_a_restart_is_pending_not_dropped(shelf, invoke_root, checkpoint):
    adapter = adapter_for(shelf)
    with FakeInvokeAI(invoke_root, forget_jobs=True) as invoke:
        install = install_at(adapter, invoke_root, invoke.url)
        waiting = register(adapter, install, checkpoint)
        assert waiting.status is ApplyStatus.PENDING and "still waiting" in waiting.detail
        invoke.forget_jobs = False
        assert register(adapter, install, checkpoint).status is ApplyStatus.CREATED
