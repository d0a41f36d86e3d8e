from __future__ import annotations

import os
from pathlib import Path

from modelshelf.links import LinkKind, LinkStatus
from modelshelf.shelf import Shelf

from .conftest import import_all


def link_of(install: Path, rel: str) -> Path:
    path = install / "models" / rel
    assert path.is_symlink(), f"{path} is not a link"
    return path


def test_every_kind_links_into_the_right_folders(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    modern, older = installs
    import_all(linked_shelf, tmp_path)
    results = linked_shelf.linker().sync_all()
    assert {r.status for r in results} == {LinkStatus.CREATED}
    library = linked_shelf.library.root
    expected_modern = {"checkpoints/juggernautXL.safetensors", "diffusion_models/flux1-dev-Q4_0.gguf",
                       "loras/detail.safetensors", "vae/ae.safetensors", "controlnet/canny.safetensors",
                       "text_encoders/t5xxl_fp16.safetensors", "clip_vision/clip_vision_h.safetensors",
                       "embeddings/easynegative.safetensors", "upscale_models/4x_ultrasharp.safetensors"}
    for rel in expected_modern:
        link = link_of(modern, rel)
        assert not os.path.isabs(os.readlink(link))                        # one filesystem: relative
        assert Path(os.path.realpath(link)).is_relative_to(library.resolve())
        assert os.path.realpath(link).endswith(Path(rel).name)
    # the older layout: unet and clip instead of diffusion_models and text_encoders; no controlnet
    assert link_of(older, "unet/flux1-dev-Q4_0.gguf").exists()
    assert link_of(older, "clip/t5xxl_fp16.safetensors").exists()
    assert not (older / "models" / "controlnet").exists() and not (modern / "models/unet/flux1-dev-Q4_0.gguf").exists()
    # a diffusers folder becomes a real folder of per-file links
    pipe = modern / "models" / "diffusers" / "sdxl-base"
    assert pipe.is_dir() and not pipe.is_symlink()
    assert link_of(modern, "diffusers/sdxl-base/unet/diffusion_pytorch_model.safetensors").exists()
    rows = linked_shelf.registry.all()
    assert len(rows) == len(results) == 9 + 8 + 6       # modern: 9 files + 8 pipeline files; older: 6
    assert {r.kind for r in rows} == {LinkKind.RELATIVE} and not any(r.external for r in rows)
    assert all(not os.path.isabs(r.target) and not os.path.isabs(r.source) for r in rows)


def test_sync_is_idempotent(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    import_all(linked_shelf, tmp_path)
    first = linked_shelf.linker().sync_all()
    again = linked_shelf.linker().sync_all()
    assert {r.status for r in again} == {LinkStatus.PRESENT}
    assert len(linked_shelf.registry.all()) == len(first)


def test_a_users_own_file_is_never_replaced(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    modern, _ = installs
    mine = modern / "models" / "loras" / "detail.safetensors"
    mine.write_bytes(b"my own lora")
    ids = import_all(linked_shelf, tmp_path)
    results = linked_shelf.linker().sync_model(linked_shelf.index.get(ids["lora"]))
    clash = [r for r in results if r.status is LinkStatus.CLASH]
    assert len(clash) == 1 and "left alone" in clash[0].detail
    assert mine.read_bytes() == b"my own lora" and not mine.is_symlink()
    assert (installs[1] / "models/loras/detail.safetensors").is_symlink()   # the other install still gets it


def test_incremental_sync_touches_only_that_model(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    ids = import_all(linked_shelf, tmp_path)
    linker = linked_shelf.linker()
    linker.sync_all()
    linker.ops = 0
    results = linker.sync_model(linked_shelf.index.get(ids["lora"]))
    assert [r.status for r in results] == [LinkStatus.PRESENT, LinkStatus.PRESENT]
    assert linker.ops == 4                              # per install: find the folder, look at the link
