from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers import digests, wait_for
from ..models import write_big_safetensors, write_gguf, write_safetensors


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "modelshelf", *args], capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def library(isolated_home: Path) -> Path:
    return isolated_home / ".local/share/modelshelf/library"


def test_import_list_show_search_verify(tmp_path: Path, library: Path) -> None:
    lora = write_safetensors(tmp_path / "detail_tweaker_xl.safetensors", "lora_sdxl")
    llm = write_gguf(tmp_path / "Llama-3-8B-Instruct.Q4_K_M.gguf", "llama", name="Llama 3 8B Instruct")
    out = cli("import", str(lora), str(llm), "--json")
    results = json.loads(out.stdout)
    assert [r["outcome"] for r in results] == ["imported", "imported"]
    listed = json.loads(cli("list", "--json").stdout)
    assert {(m["model_type"], m["family"]) for m in listed} == {("lora", "sdxl"), ("llm", "llama")}
    shown = json.loads(cli("show", results[1]["model_id"][:6], "--json").stdout)
    assert shown["model"]["official_name"] == "Llama 3 8B Instruct"
    assert [m["cleaned_name"] for m in json.loads(cli("search", "tweaker", "--json").stdout)] == \
        ["detail_tweaker_xl"]
    assert "2 ok, 0 failed" in cli("verify").stdout
    state = library.parents[2] / "state/modelshelf"
    assert (state / "models.db").exists() and not (state / "registry.db").exists()   # reads need no link registry


def test_verify_finds_a_changed_file(tmp_path: Path, library: Path) -> None:
    src = write_safetensors(tmp_path / "vae.safetensors", "sdxl_vae")
    cli("import", str(src))
    stored = next(library.rglob("vae.safetensors"))
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))
    proc = cli("verify", check=False)
    assert proc.returncode == 1
    assert "FAILED   vae/sd/vae: vae.safetensors: changed blake3" in proc.stdout


def test_errors_are_one_clear_line(tmp_path: Path, library: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("x")
    proc = cli("import", str(bad), str(tmp_path / "missing.safetensors"), check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"error: not importing {bad}: '.txt' is not a model file type (modelshelf imports .bin, "
        ".ckpt, .gguf, .pt, .pth, .safetensors, .sft files and diffusers folders)",
        f"error: importing {tmp_path / 'missing.safetensors'} failed: it does not exist"]
    proc = cli("show", "nothing-like-this", check=False)
    assert (proc.returncode, proc.stderr.strip()) == (
        2, "modelshelf: no model matches 'nothing-like-this' (see `modelshelf list`)")


def test_bad_config_names_file_key_and_fix(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[import]\nbufer_mib = 4\n")
    proc = cli("--config", str(cfg), "list", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"modelshelf: {cfg}: import.bufer_mib: unknown key; did you mean import.buffer_mib?"


def test_unmounted_library_is_an_error_not_an_empty_library(tmp_path: Path, library: Path) -> None:
    cli("import", str(write_safetensors(tmp_path / "m.safetensors", "clip_l")))
    (library / ".modelshelf-library").rename(tmp_path / "marker")     # as if the drive were gone
    for args in (["list"], ["rebuild-index"]):
        proc = cli(*args, check=False)
        assert proc.returncode == 2 and "is offline" in proc.stderr, proc.stderr
    (tmp_path / "marker").rename(library / ".modelshelf-library")
    assert len(json.loads(cli("list", "--json").stdout)) == 1          # nothing was wiped


def test_sigkill_mid_copy_then_recovery(tmp_path: Path, library: Path) -> None:
    big = write_big_safetensors(tmp_path / "big.safetensors", 400)
    before = digests(big)
    proc = subprocess.Popen([sys.executable, "-m", "modelshelf", "import", str(big)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    staging = library / ".modelshelf-tmp"
    wait_for(lambda: any(staging.rglob("*.tmp")) if staging.exists() else False,
             timeout=30, what="the copy to start")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(staging.rglob("*.tmp"))                                # a partial copy is left...
    assert json.loads(cli("list", "--json").stdout) == []            # ...and never indexed
    small = write_safetensors(tmp_path / "small.safetensors", "clip_l")
    cli("import", str(small))                                         # a writer cleans up at start
    assert list(staging.iterdir()) == []
    assert digests(big) == before
    assert [m["cleaned_name"] for m in json.loads(cli("list", "--json").stdout)] == ["small"]
