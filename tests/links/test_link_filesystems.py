"""Links across real filesystems (root only: tmpfs, loop-mounted NTFS, read-only and moved mounts)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from modelshelf import actions
from modelshelf.links import LinkKind
from modelshelf.shelf import Shelf

from ..mounts import loop_fs, tmpfs
from .conftest import OLDER, comfy, import_all, link_config


def test_install_on_another_filesystem_gets_absolute_symlinks(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "usb", "16m") as usb:
        install = comfy(usb / "ComfyUI", OLDER)
        with Shelf(link_config(tmp_path, install), writer=True) as shelf:
            import_all(shelf, tmp_path)
            results = actions.sync(shelf).as_json()
            assert results["counts"] == {"created": 6}
            link = install / "models" / "loras" / "detail.safetensors"
            assert os.path.isabs(os.readlink(link)) and link.resolve().is_file()
            assert {(r.kind, r.external) for r in shelf.registry.all()} == {(LinkKind.ABSOLUTE, True)}


def test_ntfs_gets_hardlinks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with loop_fs("ntfs", tmp_path, tmp_path / "ntfs") as ntfs:
        install = comfy(ntfs / "ComfyUI", OLDER)
        with Shelf(link_config(tmp_path, install, library=ntfs / "library"), writer=True) as shelf:
            import_all(shelf, tmp_path)
            actions.sync(shelf)
            link = install / "models" / "loras" / "detail.safetensors"
            stored = next(shelf.library.root.rglob("detail.safetensors"))
            assert not link.is_symlink() and os.stat(link).st_ino == os.stat(stored).st_ino
            assert {r.kind for r in shelf.registry.all()} == {LinkKind.HARDLINK}
            assert actions.health(shelf).as_json()["status"] == "healthy"
    assert "NTFS: symlinks made here may not work from Windows" in caplog.text   # told once per folder


def test_read_only_app_mount_is_a_clear_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "8m") as ro:
        install = comfy(ro / "ComfyUI", OLDER)
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        with Shelf(link_config(tmp_path, install), writer=True) as shelf:
            import_all(shelf, tmp_path)
            result = actions.sync(shelf).as_json()
            assert result["counts"] == {"error": 6}
            assert all("read-only" in p["detail"] for p in result["problems"])


def test_unmounted_app_drive_is_offline_not_deleted(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    with tmpfs(usb, "8m"):
        install = comfy(usb / "ComfyUI", OLDER)
        with Shelf(link_config(tmp_path, install), writer=True) as shelf:
            import_all(shelf, tmp_path)
            actions.sync(shelf)
    with Shelf(link_config(tmp_path, install), writer=True) as shelf:      # the drive is gone now
        report = actions.health(shelf, fix=True).as_json()
        assert [f["problem"] for f in report["findings"]] == ["offline_app"]
        assert len(shelf.registry.all()) == 6                               # nothing pruned


def test_relocating_a_moved_library_drive_recreates_links(tmp_path: Path) -> None:
    old, new = tmp_path / "media" / "usb", tmp_path / "media" / "usb-new"
    with tmpfs(old, "32m"):
        install = comfy(tmp_path / "ComfyUI", OLDER)
        with Shelf(link_config(tmp_path, install, library=old / "library"), writer=True) as shelf:
            import_all(shelf, tmp_path)
            actions.sync(shelf)
        new.mkdir()
        subprocess.run(["mount", "--move", str(old), str(new)], check=True)
        try:
            link = install / "models" / "loras" / "detail.safetensors"
            assert not link.exists()                                            # dangling after the move
            with Shelf(link_config(tmp_path, install, library=new / "library"), writer=True) as shelf:
                result = actions.relocate_drive(shelf, str(old), str(new)).as_json()
                assert result["links_recreated"] == 6
                assert link.resolve().is_file() and str(link.resolve()).startswith(str(new))
                assert actions.health(shelf).as_json()["status"] == "healthy"
        finally:
            subprocess.run(["umount", "-l", str(new)], capture_output=True)
