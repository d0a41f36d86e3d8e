"""Health finds and fixes what a user breaks by hand, per kind; delete removes every app's entry;
an app root that is missing or on a read-only mount is reported, never half-made or pruned."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from modelshelf import actions
from modelshelf.shelf import Shelf

from ..mounts import tmpfs
from .conftest import app_config, import_every_type, make_install, shelf_config
from .test_layouts import EXPECTED


def problems(report: dict) -> set[tuple[str, str]]:
    return {(f["problem"], f["path"]) for f in report["findings"]}


@pytest.mark.parametrize("kind", ["a1111", "forge", "sdnext", "swarmui", "fooocus", "textgen", "llamacpp", "folders"])
def test_health_finds_and_fixes_what_a_user_broke(kind: str, tmp_path: Path) -> None:
    install = make_install(tmp_path / "apps" / kind, kind)
    with Shelf(shelf_config(tmp_path, (app_config(kind, install),)), writer=True) as shelf:
        ids = import_every_type(shelf, tmp_path)
        actions.sync(shelf)
        placed = sorted(EXPECTED[kind].values())
        deleted, replaced = install / placed[0], install / placed[-1]
        library_file = Path(os.path.realpath(deleted))
        deleted.unlink()                                     # the user deleted a link
        if replaced != deleted:
            replaced.unlink()
            replaced.write_bytes(b"mine now")                # ... and put their own file in another's place
        stray = deleted.parent / "by-hand.safetensors"        # and linked a library file by hand
        stray.symlink_to(library_file)
        report = actions.health(shelf).as_json()
        assert ("broken", str(deleted)) in problems(report)
        assert ("orphaned", str(stray)) in problems(report)
        if replaced != deleted:
            assert ("mismatched", str(replaced)) in problems(report)
        fixed = actions.health(shelf, fix=True).as_json()
        assert all(f["done"] for f in fixed["fixed"]) and fixed["status_after"] == "healthy"
        assert deleted.is_symlink() and os.path.realpath(deleted) == str(library_file)     # recreated
        if replaced != deleted:
            assert replaced.read_bytes() == b"mine now" and not replaced.is_symlink()  # untouched, forgotten
            assert shelf.registry.get(str(install), placed[-1]) is None
        assert shelf.registry.get(str(install), stray.relative_to(install).as_posix()) is not None  # adopted
        assert ids


def test_an_lmstudio_folder_the_user_emptied_is_rebuilt(tmp_path: Path) -> None:
    root = make_install(tmp_path / ".lmstudio" / "models", "lmstudio")
    with Shelf(shelf_config(tmp_path, (app_config("lmstudio", root),)), writer=True) as shelf:
        import_every_type(shelf, tmp_path)
        actions.sync(shelf)
        shutil.rmtree(root / "bartowski")
        report = actions.health(shelf).as_json()
        assert {f["problem"] for f in report["findings"]} == {"broken"} and len(report["findings"]) == 2
        assert actions.health(shelf, fix=True).as_json()["status_after"] == "healthy"
        for rel in EXPECTED["lmstudio"].values():
            assert (root / rel).is_symlink() and (root / rel).resolve().is_file()


def test_a_removed_install_is_a_ghost_and_its_rows_go(tmp_path: Path) -> None:
    keep, gone = make_install(tmp_path / "apps" / "sd", "a1111"), make_install(tmp_path / "apps" / "fc", "fooocus")
    apps = (app_config("a1111", keep), app_config("fooocus", gone))
    with Shelf(shelf_config(tmp_path, apps), writer=True) as shelf:
        import_every_type(shelf, tmp_path)
        actions.sync(shelf)
        shutil.rmtree(gone)
        report = actions.health(shelf).as_json()
        assert [f["problem"] for f in report["findings"]] == ["ghost_app"]
        actions.health(shelf, fix=True)
        assert {r.install for r in shelf.registry.all()} == {str(keep)}


def test_delete_removes_every_apps_entry(every_kind: dict[str, Path], tmp_path: Path) -> None:
    apps = tuple(app_config(kind, root) for kind, root in every_kind.items())
    with Shelf(shelf_config(tmp_path, apps), writer=True) as shelf:
        ids = import_every_type(shelf, tmp_path)
        actions.sync(shelf)
        for model_type in ("llm", "mmproj", "lora", "diffusers"):
            entries = shelf.registry.for_model(ids[model_type])
            assert {Path(r.install).name for r in entries} == {k for k, e in EXPECTED.items() if model_type in e}
            assert actions.delete(shelf, ids[model_type]).links_removed == len(entries)
            assert shelf.registry.for_model(ids[model_type]) == []
        for kind, expected in EXPECTED.items():
            for model_type in ("llm", "mmproj", "lora", "diffusers"):
                if model_type in expected:
                    assert not os.path.lexists(every_kind[kind] / expected[model_type]), (kind, model_type)
        assert not (every_kind["lmstudio"] / "bartowski").exists()              # our folders, emptied, go
        assert not (every_kind["comfyui"] / "models/diffusers/sdxl-base").exists()
        assert (every_kind["comfyui"] / "models/diffusers").is_dir()            # the app's own folder stays
        assert (every_kind["a1111"] / "models/Lora").is_dir()
        assert actions.health(shelf).as_json()["status"] == "healthy"


def test_a_missing_app_root_is_offline_and_nothing_is_pruned(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "usb", "16m") as usb:
        root = make_install(usb / "lmstudio", "lmstudio")
        config = shelf_config(tmp_path, (app_config("lmstudio", root),))
        with Shelf(config, writer=True) as shelf:
            import_every_type(shelf, tmp_path)
            actions.sync(shelf)
            assert len(shelf.registry.all()) == 2
    with Shelf(config, writer=True) as shelf:                                  # the drive is away now
        linker = shelf.linker()
        assert linker.installs() == [] and [app.root for app, _ in linker.offline_roots()] == [str(root)]
        assert actions.sync(shelf).as_json()["counts"] == {}
        report = actions.health(shelf, fix=True).as_json()
        assert [f["problem"] for f in report["findings"]] == ["offline_app"]
        assert len(shelf.registry.all()) == 2


def test_a_read_only_app_folder_is_a_clear_error_and_nothing_half_made(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "8m") as ro:
        root = make_install(ro / "models", "lmstudio")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        with Shelf(shelf_config(tmp_path, (app_config("lmstudio", root),)), writer=True) as shelf:
            import_every_type(shelf, tmp_path)
            result = actions.sync(shelf).as_json()
            assert result["counts"] == {"error": 2}
            assert all("read-only" in p["detail"] for p in result["problems"])
            assert list(root.iterdir()) == [] and shelf.registry.all() == []
