from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.config import AppConfig, Config, PathsConfig
from modelshelf.service.unit import REFERENCE_EXEC, broad_app_roots, install_unit, render_unit, writable_paths

REPO_UNIT = Path(__file__).parents[2] / "systemd" / "modelshelf.service"


def analyze(*args: str, home: Path) -> subprocess.CompletedProcess:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    runtime = home / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, env=env, timeout=60)


def test_repo_unit_is_the_default_render(isolated_home: Path) -> None:
    assert REPO_UNIT.read_text() == render_unit(Config(), REFERENCE_EXEC), (
        f"regenerate {REPO_UNIT} with render_unit(Config(), REFERENCE_EXEC)")


def test_unit_verifies_cleanly(isolated_home: Path, tmp_path: Path) -> None:
    unit = tmp_path / "modelshelf.service"
    unit.write_text(render_unit(Config(), f"{sys.executable} -m modelshelf daemon"))
    result = analyze("verify", "--user", "--man=no", str(unit), home=isolated_home)
    assert (result.returncode, result.stderr) == (0, "")


def test_unit_exposure_is_low(isolated_home: Path, tmp_path: Path) -> None:
    unit = tmp_path / "modelshelf.service"
    unit.write_text(render_unit(Config(), f"{sys.executable} -m modelshelf daemon"))
    result = analyze("security", "--user", "--offline=yes", str(unit), home=isolated_home)
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout).group(1))
    print(f"systemd-analyze security exposure: {score}")
    assert score <= 2.0


def test_inbox_and_library_share_one_writable_mount(isolated_home: Path) -> None:
    home = isolated_home
    shared = Config(paths=PathsConfig(library=home / "models/library", inboxes=(home / "models/inbox",),
                                      state_dir=home / ".local/state/modelshelf"))
    assert writable_paths(shared) == [home / "models", home / ".local/state/modelshelf"]
    apart = Config(paths=PathsConfig(library=Path("/mnt/big/library"), inboxes=(home / "Downloads/models",),
                                     state_dir=home / ".local/state/modelshelf"))
    assert writable_paths(apart) == [Path("/mnt/big/library"), home / "Downloads/models",
                                     home / ".local/state/modelshelf"]


def test_app_installs_are_writable_up_to_their_first_wildcard(isolated_home: Path) -> None:
    home = isolated_home
    config = Config(paths=PathsConfig(library=home / "models/library", inboxes=(home / "models/inbox",),
                                      state_dir=home / ".local/state/modelshelf"),
                    apps=(AppConfig(root="~/comfyui-versions/v*/ComfyUI"), AppConfig(root="/opt/ComfyUI")))
    assert writable_paths(config) == [home / "models", home / ".local/state/modelshelf",
                                      home / "comfyui-versions", Path("/opt/ComfyUI")]
    assert "ReadWritePaths=-%h/comfyui-versions\n" in render_unit(config, "x")


def test_an_app_root_reaching_the_home_folder_lists_its_installs_instead(isolated_home: Path) -> None:
    home = isolated_home
    for version in ("a", "b"):
        (home / f"comfy-{version}/models").mkdir(parents=True)
    config = Config(paths=PathsConfig(library=home / "models/library", inboxes=(home / "models/inbox",),
                                      state_dir=home / ".local/state/modelshelf"),
                    apps=(AppConfig(root="~/comfy-*"), AppConfig(root="/*/ComfyUI"), AppConfig(root="/mnt/*/ComfyUI")))
    paths = writable_paths(config)
    assert home not in paths and Path("/") not in paths and Path("/mnt") not in paths   # never so wide
    assert paths[-2:] == [home / "comfy-a", home / "comfy-b"]
    assert broad_app_roots(config) == ["~/comfy-*", "/*/ComfyUI", "/mnt/*/ComfyUI"]


def test_install_service_writes_the_unit(isolated_home: Path) -> None:
    path = install_unit(Config())
    assert path == isolated_home / ".config/systemd/user/modelshelf.service"
    text = path.read_text()
    assert "Type=notify" in text and "ReadWritePaths=-%h/.local/share/modelshelf" in text
    assert (isolated_home / ".local/share/modelshelf/inbox").is_dir()
