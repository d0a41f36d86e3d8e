from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from modelshelf import actions
from modelshelf.errors import ModelshelfError
from modelshelf.links.registry import LinkRegistry
from modelshelf.shelf import Shelf

from .conftest import import_all


def problems(report: dict) -> list[tuple[str, str]]:
    return sorted((f["problem"], Path(f["path"]).name) for f in report["findings"])


def test_each_problem_is_found_and_fixed(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    modern, older = installs
    import_all(linked_shelf, tmp_path)
    actions.sync(linked_shelf)
    assert actions.health(linked_shelf).as_json()["status"] == "healthy"
    models = modern / "models"
    (models / "loras" / "detail.safetensors").unlink()                                   # broken: link deleted
    (models / "vae" / "ae.safetensors").unlink()
    (models / "vae" / "ae.safetensors").write_bytes(b"user file")                        # mismatched: a file
    ckpt = models / "checkpoints" / "juggernautXL.safetensors"
    ckpt.unlink()
    ckpt.symlink_to(tmp_path / "elsewhere.safetensors")                                  # mismatched: repointed
    library_file = next(linked_shelf.library.root.rglob("easynegative.safetensors"))
    (models / "checkpoints" / "adopt-me.safetensors").symlink_to(library_file)           # orphan, valid
    (models / "loras" / "dangling.safetensors").symlink_to(linked_shelf.library.root / "gone.safetensors")
    shutil.rmtree(older)                                                                 # ghost app
    report = actions.health(linked_shelf).as_json()
    assert report["status"] == "errors"
    assert problems(report) == [("broken", "detail.safetensors"), ("ghost_app", "v0.2.0"),
                                ("mismatched", "ae.safetensors"), ("mismatched", "juggernautXL.safetensors"),
                                ("orphaned", "adopt-me.safetensors"), ("orphaned", "dangling.safetensors")]
    planned = actions.health(linked_shelf, fix=True, dry_run=True).as_json()
    assert "fixed" not in planned and not (models / "loras" / "detail.safetensors").exists()   # dry run: no change
    fixed = actions.health(linked_shelf, fix=True).as_json()
    assert all(f["done"] for f in fixed["fixed"]) and fixed["status_after"] == "healthy"
    stored = next(linked_shelf.library.root.rglob("detail.safetensors"))
    assert (models / "loras" / "detail.safetensors").resolve() == stored.resolve()
    assert (models / "vae" / "ae.safetensors").read_bytes() == b"user file"             # the user's file stays
    assert os.path.realpath(ckpt).startswith(os.path.realpath(linked_shelf.library.root))
    assert not os.path.lexists(models / "loras" / "dangling.safetensors")
    assert linked_shelf.registry.get(str(modern), "models/checkpoints/adopt-me.safetensors") is not None
    assert not any(r.install == str(older) for r in linked_shelf.registry.all())


def test_a_missing_library_file_is_an_error_that_fix_does_not_hide(linked_shelf: Shelf, installs,
                                                                    tmp_path: Path) -> None:
    import_all(linked_shelf, tmp_path)
    actions.sync(linked_shelf)
    next(linked_shelf.library.root.rglob("detail.safetensors")).unlink()
    report = actions.health(linked_shelf, fix=True).as_json()
    assert ("missing_file", "detail.safetensors") in problems(report)
    assert report["status_after"] == "errors"                 # links removed, the loss still reported
    assert not os.path.lexists(installs[0] / "models/loras/detail.safetensors")


def test_cascade_delete(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    ids = import_all(linked_shelf, tmp_path)
    actions.sync(linked_shelf)
    folder = linked_shelf.library.root / linked_shelf.index.get(ids["diffusers"]).path
    result = actions.delete(linked_shelf, ids["diffusers"]).as_json()
    assert result["links_removed"] == 8
    assert not folder.exists() and linked_shelf.index.get(ids["diffusers"]) is None
    assert not (installs[0] / "models/diffusers/sdxl-base").exists()
    assert linked_shelf.registry.for_model(ids["diffusers"]) == []
    assert actions.health(linked_shelf).as_json()["status"] == "healthy"


def test_delete_refuses_when_a_link_is_not_ours_any_more(linked_shelf: Shelf, installs, tmp_path: Path) -> None:
    ids = import_all(linked_shelf, tmp_path)
    actions.sync(linked_shelf)
    target = installs[0] / "models/loras/detail.safetensors"
    target.unlink()
    target.write_bytes(b"precious")
    with pytest.raises(ModelshelfError, match="is not a link to it any more"):
        actions.delete(linked_shelf, ids["lora"])
    assert target.read_bytes() == b"precious" and linked_shelf.index.get(ids["lora"]) is not None


def test_relocate_matches_whole_path_components(tmp_path: Path) -> None:
    registry = LinkRegistry(tmp_path / "registry.db")
    from modelshelf.links import LinkKind, LinkRecord
    for install in ("/media/usb/comfy", "/media/usb2/comfy", "/media/usb"):
        registry.add(LinkRecord(install, "models/loras/a.safetensors", "m1", "lora/x/a/a.safetensors",
                                LinkKind.ABSOLUTE, True))
        registry.add_install(Path(install), "/media/usb" if install != "/media/usb2/comfy" else "/media/usb2")
    assert registry.relocate("/media/usb", "/mnt/disk") == 2
    assert sorted(r.install for r in registry.all()) == ["/media/usb2/comfy", "/mnt/disk", "/mnt/disk/comfy"]
    assert registry.installs()["/mnt/disk/comfy"] == "/mnt/disk"
    assert registry.installs()["/media/usb2/comfy"] == "/media/usb2"
    registry.close()
