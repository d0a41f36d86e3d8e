"""A real machine's model folders: three ComfyUI versions and an A1111 install sharing files."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelshelf.config import AppConfig, Config, ImportConfig, ImportMode, PathsConfig
from modelshelf.ingest import ImportJob
from modelshelf.shelf import Shelf

from ..models import write_big_safetensors, write_diffusers, write_safetensors

COMFY_FOLDERS = ["checkpoints", "loras", "vae", "diffusers", "embeddings"]


def comfy(root: Path) -> Path:
    for name in COMFY_FOLDERS:
        (root / "models" / name).mkdir(parents=True)
    (root / "main.py").write_text("# ComfyUI\n")
    return root


def a1111(root: Path) -> Path:
    """Automatic1111 / Forge keep models/Stable-diffusion and models/Lora."""
    for name in ("Stable-diffusion", "Lora", "VAE"):
        (root / "models" / name).mkdir(parents=True)
    (root / "webui.py").write_text("# stable-diffusion-webui\n")
    return root


def adopt_config(tmp_path: Path, apps_glob: Path | None = None, library: Path | None = None) -> Config:
    apps = (AppConfig(root=str(apps_glob)),) if apps_glob else ()
    return Config(paths=PathsConfig(library=library or tmp_path / "library", inboxes=(tmp_path / "inbox",),
                                    state_dir=tmp_path / "state"),
                  imports=ImportConfig(reserve_mib=0), apps=apps)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class World:
    versions: Path                  # the ComfyUI installs' glob parent
    a1111: Path
    models: dict[Path, str]         # every adoptable model file -> its sha256 before
    duplicate_blocks: int           # bytes of blocks of every copy beyond the first of a content
    contents: int                   # distinct contents among the adoptable files (a folder: one)
    already_linked: Path            # a link into the library from before
    skipped: dict[str, str]         # name -> the reason the scan gives


def build_world(tmp_path: Path, shelf: Shelf) -> World:
    """Three ComfyUI versions and an A1111 install: the same checkpoint in three places, a LoRA in
    three, a hardlinked pair, a diffusers folder, a non-model, a link into the library, a loop,
    a link out of the tree, VCS and Hub-cache bookkeeping."""
    versions = tmp_path / "comfyui-versions"
    v1, v2, v3 = (comfy(versions / v) for v in ("v0.2.0", "v0.3.10", "v0.3.40"))
    webui = a1111(tmp_path / "stable-diffusion-webui")
    src = tmp_path / "downloads"
    src.mkdir()
    ckpt = write_big_safetensors(src / "juggernautXL.safetensors", 3, seed=1)
    lora = write_big_safetensors(src / "detail.safetensors", 1, seed=2)
    style = write_safetensors(src / "style.safetensors", "lora_sdxl", salt=3)
    for where in (v1 / "models/checkpoints", v2 / "models/checkpoints", webui / "models/Stable-diffusion"):
        shutil.copy(ckpt, where / ckpt.name)
    for where in (v1 / "models/loras", v3 / "models/loras", webui / "models/Lora"):
        shutil.copy(lora, where / lora.name)
    shutil.copy(style, v2 / "models/loras" / style.name)
    pair = write_big_safetensors(v2 / "models/loras/pair.safetensors", 4, seed=4)
    os.link(pair, v3 / "models/loras/pair-again.safetensors")
    write_diffusers(v1 / "models/diffusers/sdxl-base", salt=5)
    (v1 / "models/loras/broken.safetensors").write_bytes(b"this is not a safetensors file")
    (v1 / "models/loras/README.txt").write_text("my loras\n")
    vae = write_safetensors(src / "ae.safetensors", "vae_flux")
    model = shelf.importer().run(ImportJob(vae, ImportMode.COPY))
    linked = v3 / "models/vae/ae.safetensors"
    os.symlink(shelf.library.root / model.path / "ae.safetensors", linked)
    os.symlink("loop.safetensors", v3 / "models/loras/loop.safetensors")
    outside = write_safetensors(src / "outside.safetensors", "lora_sdxl", salt=6)
    os.symlink(outside, v3 / "models/loras/outside.safetensors")
    (v2 / "models/.git").mkdir()
    (v2 / "models/.git/HEAD").write_text("ref: refs/heads/master\n")
    hub = webui / "models/.cache/huggingface/download"
    hub.mkdir(parents=True)
    shutil.copy(style, hub / "style.safetensors")

    models = {p: sha256(p) for root in (versions, webui) for p in sorted(root.rglob("*"))
              if p.is_file() and not p.is_symlink() and ".cache" not in p.parts and ".git" not in p.parts
              and p.name not in ("README.txt", "broken.safetensors", "main.py", "webui.py")}
    blocks = os.stat(ckpt).st_blocks * 512 * 2 + os.stat(lora).st_blocks * 512 * 2
    skipped = {"broken.safetensors": "not a model", "ae.safetensors": "already a link into the library",
               "loop.safetensors": "a symlink loop", "outside.safetensors": "a link out of the install",
               ".git": "download or VCS bookkeeping", ".cache": "download or VCS bookkeeping"}
    return World(versions, webui, models, blocks, 5, linked, skipped)


def snapshot(*roots: Path) -> dict[str, tuple]:
    """Everything a dry run must not change: names, kinds, bytes, link targets, inodes, mtimes."""
    seen: dict[str, tuple] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [".", *dirnames, *filenames]:
                p = Path(dirpath) / name
                st = os.lstat(p)
                what = (os.readlink(p) if p.is_symlink() else sha256(p) if p.is_file() else "dir")
                seen[str(p)] = (what, st.st_ino, st.st_nlink, st.st_size, st.st_mtime_ns, st.st_mode)
    return seen


@pytest.fixture
def world_shelf(tmp_path: Path):
    with Shelf(adopt_config(tmp_path, tmp_path / "comfyui-versions" / "*"), writer=True) as shelf:
        yield shelf, build_world(tmp_path, shelf)
