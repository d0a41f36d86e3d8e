"""`modelshelf apps discover [--add]` finds installs by their marker files in the usual places and
adds them to the config keeping the user's comments; `modelshelf apps` lists them with problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from modelshelf.config import AppKind, load_config

from ..models import write_safetensors
from .conftest import make_install

USER_CONFIG = """\
# my modelshelf setup -- keep this comment
[paths]
library = "{home}/lib"   # the big drive
inboxes = ["{home}/inbox"]

# ComfyUI is already linked
[[apps]]
kind = "comfyui"
root = "~/ComfyUI"
"""


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "modelshelf", *args], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def lay_out_home(home: Path) -> dict[str, AppKind]:
    """A home folder with every app installed where its installer puts it."""
    installs = {"ComfyUI": "comfyui", "comfyui-versions/v0.3.40": "comfyui", "stable-diffusion-webui": "a1111",
                "stable-diffusion-webui-forge": "forge", "automatic": "sdnext", "SwarmUI": "swarmui",
                "Fooocus": "fooocus", "text-generation-webui": "textgen"}
    for rel, kind in installs.items():
        make_install(home / rel, kind)
    (home / "invokeai").mkdir()
    (home / "invokeai" / "invokeai.yaml").write_text("schema_version: 4.0.2\n")
    (home / ".lmstudio").mkdir()
    (home / ".ollama" / "models" / "manifests").mkdir(parents=True)
    (home / ".ollama" / "models" / "blobs").mkdir()
    (home / "stable-diffusion-webui-broken").mkdir()                  # no marker files: not an install
    found = {str(home / rel): AppKind(kind) for rel, kind in installs.items()}
    found |= {str(home / "invokeai"): AppKind.INVOKEAI, str(home / ".lmstudio/models"): AppKind.LMSTUDIO,
              str(home / ".ollama/models"): AppKind.OLLAMA}
    return found


def test_discover_finds_every_app_by_its_markers_and_add_keeps_comments(isolated_home: Path,
                                                                         monkeypatch) -> None:
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    home = isolated_home
    expected = lay_out_home(home)
    config = home / ".config" / "modelshelf" / "config.toml"
    config.parent.mkdir(parents=True)
    original = USER_CONFIG.format(home=home)
    config.write_text(original)
    found = json.loads(cli("apps", "discover", "--json").stdout)["found"]
    assert {f["root"]: f["kind"] for f in found} == {root: kind.value for root, kind in expected.items()}
    assert [f["root"] for f in found if f["configured"]] == [str(home / "ComfyUI")]
    text = cli("apps", "discover").stdout
    assert '[[apps]]\nkind = "sdnext"\nroot = "~/automatic"' in text
    assert config.read_text() == original                                  # discover alone writes nothing
    out = json.loads(cli("apps", "discover", "--add", "--json").stdout)
    assert out["added"] == len(expected) - 1
    written = config.read_text()
    assert written.startswith(original)                                    # comments and layout kept
    apps = load_config(config).apps
    assert {(str(r), a.kind) for a in apps for r in a.roots()} == {(r, k) for r, k in expected.items()}
    assert json.loads(cli("apps", "discover", "--add", "--json").stdout)["added"] == 0   # idempotent
    assert config.read_text() == written


def test_add_refuses_a_broken_config_and_leaves_it_alone(isolated_home: Path) -> None:
    make_install(isolated_home / "Fooocus", "fooocus")
    config = isolated_home / ".config" / "modelshelf" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[paths\nlibrary = 1\n")
    proc = cli("apps", "discover", "--add", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not valid TOML" in proc.stderr
    assert config.read_text() == "[paths\nlibrary = 1\n"


def test_apps_lists_installs_with_counts_and_problems(isolated_home: Path, tmp_path: Path) -> None:
    home = isolated_home
    sd = make_install(home / "stable-diffusion-webui", "a1111")
    config = home / ".config" / "modelshelf" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[paths]\nlibrary = "{home}/lib"\ninboxes = ["{home}/inbox"]\n'
                      '[[apps]]\nkind = "a1111"\nroot = "~/stable-diffusion-webui"\n'
                      '[[apps]]\nkind = "llamacpp"\nroot = "/mnt/usb/gguf"\n')
    cli("import", str(write_safetensors(tmp_path / "detail.safetensors", "lora_sdxl")))
    cli("sync")
    (sd / "models" / "Lora" / "detail.safetensors").unlink()
    proc = cli("apps", "--json", check=False)
    assert proc.returncode == 1
    views = {v["kind"]: v for v in json.loads(proc.stdout)}
    assert views["a1111"]["state"] == "online" and views["a1111"]["entries"] == 1
    assert views["a1111"]["methods"] == ["relative_symlink"] and views["a1111"]["problems"] == ["1 broken"]
    assert views["llamacpp"]["state"] == "offline" and "nothing is pruned" in views["llamacpp"]["problems"][0]
    human = cli("apps", check=False).stdout
    assert "a1111" in human and "1 broken" in human and os.fspath(sd) in human


def test_sync_dry_run_shows_the_plan_and_changes_nothing(isolated_home: Path, tmp_path: Path) -> None:
    home = isolated_home
    sd = make_install(home / "stable-diffusion-webui", "a1111")
    config = home / ".config" / "modelshelf" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[paths]\nlibrary = "{home}/lib"\ninboxes = ["{home}/inbox"]\n'
                      '[[apps]]\nkind = "a1111"\nroot = "~/stable-diffusion-webui"\n')
    cli("import", str(write_safetensors(tmp_path / "detail.safetensors", "lora_sdxl")))
    plan = json.loads(cli("sync", "--dry-run", "--json").stdout)
    assert [(p["method"], p["target"]) for p in plan] == [("link", str(sd / "models/Lora/detail.safetensors"))]
    assert not os.path.lexists(sd / "models/Lora/detail.safetensors")
    assert "models/Lora/detail.safetensors <- " in cli("sync", "--dry-run").stdout
