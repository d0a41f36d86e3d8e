"""Adoption on real filesystems and under injected faults (root: tmpfs, read-only remounts,
strace). Whatever goes wrong, the app's file stays as it was and the run says why in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelshelf.adopt import Outcome, SkipReason, adopt, lines, to_dict
from modelshelf.library.root import MARKER_NAME
from modelshelf.shelf import Shelf

from ..models import write_big_safetensors
from ..mounts import loop_fs, tmpfs
from .conftest import adopt_config, comfy, sha256, snapshot


def _library_files(shelf: Shelf) -> list[str]:
    return sorted(str(p.relative_to(shelf.library.root)) for p in shelf.library.root.rglob("*")
                  if p.is_file() and p.name != MARKER_NAME and not p.name.startswith(".modelshelf"))


def _files(snap: dict[str, tuple]) -> dict[str, tuple]:
    return {path: facts for path, facts in snap.items() if facts[0] != "dir"}


def test_an_install_on_another_filesystem_is_copied_verified_and_absolutely_linked(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "usb", "64m") as usb, \
            Shelf(adopt_config(tmp_path), writer=True) as shelf:
        install = comfy(usb / "ComfyUI")
        app = write_big_safetensors(install / "models/loras/far.safetensors", 8, seed=11)
        digest, blocks = sha256(app), os.stat(app).st_blocks * 512
        [result] = adopt(shelf, [str(install)]).results
        assert result.outcome is Outcome.ADOPTED and result.kind == "absolute_symlink"
        assert app.is_symlink() and os.path.isabs(os.readlink(app)) and sha256(app) == digest
        library_file = shelf.library.root / result.library_file
        assert os.stat(library_file).st_dev != os.stat(install).st_dev and sha256(library_file) == digest
        assert result.freed == blocks                               # the tmpfs got its space back
        assert result.added >= os.stat(library_file).st_blocks * 512  # and the library holds the copy
        [record] = shelf.registry.all()
        assert record.external and record.kind == "absolute_symlink"


def test_on_ntfs_the_library_and_the_app_share_inodes_by_hardlinks(tmp_path: Path) -> None:
    """Library and install on one NTFS drive (Windows cannot follow Linux symlinks): the app's
    link kind is a hardlink. The first copy simply becomes a library name of its own inode; a
    duplicate is replaced by a hardlink to it in one rename, and its blocks are given back."""
    with loop_fs("ntfs", tmp_path, tmp_path / "ntfs") as ntfs, \
            Shelf(adopt_config(tmp_path, library=ntfs / "library"), writer=True) as shelf:
        a, b = comfy(ntfs / "ComfyUI"), comfy(ntfs / "ComfyUI-old")
        first = write_big_safetensors(a / "models/loras/mine.safetensors", 2, seed=24)
        second = b / "models/loras/mine.safetensors"
        shutil.copyfile(first, second)
        digest, blocks = sha256(first), os.stat(second).st_blocks * 512
        report = adopt(shelf, [str(a), str(b)])
        assert [(r.outcome, r.kind) for r in report.results] == [(Outcome.ADOPTED, "hardlink"),
                                                                 (Outcome.LINKED, "hardlink")]
        library_file = shelf.library.root / report.results[0].library_file
        for app in (first, second):
            assert not app.is_symlink() and os.path.samefile(app, library_file) and sha256(app) == digest
        assert os.stat(library_file).st_nlink == 3 and report.freed == blocks
        assert {r.kind for r in shelf.registry.all()} == {"hardlink"}


def test_not_enough_space_for_a_copy_is_found_first_and_nothing_changes(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/checkpoints/big.safetensors", 20, seed=12)
    with tmpfs(tmp_path / "small", "8m") as small, \
            Shelf(adopt_config(tmp_path, library=small / "library"), writer=True) as shelf:
        before = snapshot(install)
        [result] = adopt(shelf, [str(install)]).results
        assert result.outcome is Outcome.SKIPPED and result.reason is SkipReason.NO_SPACE
        assert "MB needed" in result.detail and str(app) in result.detail
        assert snapshot(install) == before and _library_files(shelf) == [] and shelf.index.count() == 0


def test_the_disk_filling_up_mid_copy_leaves_the_app_file_and_nothing_partial(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/checkpoints/big.safetensors", 40, seed=13)
    with tmpfs(tmp_path / "lib", "64m") as lib, \
            Shelf(adopt_config(tmp_path, library=lib / "library"), writer=True) as shelf:
        before = snapshot(install)
        filler = lib / "filler"

        def fill_the_disk(progress) -> None:          # another program takes the space meanwhile
            if progress.phase == "copying" and not filler.exists():
                with open(filler, "wb") as f:
                    try:
                        while True:
                            f.write(b"\0" * (1 << 20))
                    except OSError:
                        pass

        [result] = adopt(shelf, [str(install)], on_progress=fill_the_disk).results
        assert filler.exists() and result.outcome is Outcome.SKIPPED and result.reason is SkipReason.NO_SPACE
        assert "No space left on device" in result.detail
        # The files are as they were (the folder's mtime moved: the canary link proved links work there).
        assert _files(snapshot(install)) == _files(before) and not app.is_symlink()
        assert _library_files(shelf) == [] and shelf.index.count() == 0


def test_a_read_only_app_folder_is_reported_and_nothing_changes(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "16m") as ro, Shelf(adopt_config(tmp_path), writer=True) as shelf:
        install = comfy(ro / "ComfyUI")
        write_big_safetensors(install / "models/loras/kept.safetensors", 1, seed=14)
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        before = snapshot(install)
        [planned] = adopt(shelf, [str(install)], dry_run=True).plan.models    # the dry run already says so
        assert planned.reason is SkipReason.READ_ONLY and "read-only" in planned.detail
        [result] = adopt(shelf, [str(install)]).results
        assert result.outcome is Outcome.SKIPPED and result.reason is SkipReason.READ_ONLY
        assert "read-only" in result.detail
        assert snapshot(install) == before and _library_files(shelf) == []


def test_a_file_changing_while_it_is_adopted_is_left_as_it_is(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/loras/training.safetensors", 16, seed=15)
    with Shelf(adopt_config(tmp_path), writer=True) as shelf:
        def keep_writing(progress) -> None:           # a training run saving over it
            with open(app, "r+b") as f:
                f.seek(-1, os.SEEK_END)
                f.write(bytes([progress.done_bytes % 251]))

        [result] = adopt(shelf, [str(install)], on_progress=keep_writing).results
        assert result.outcome is Outcome.SKIPPED and result.reason is SkipReason.CHANGED
        assert not app.is_symlink() and shelf.index.count() == 0 and _library_files(shelf) == []


def test_a_file_written_after_its_import_leaves_no_model_behind(tmp_path: Path) -> None:
    """Same filesystem: the library's copy is a second name of the app's inode, so an app writing
    to its file after the import changes both; the model is taken back out, the file stays."""
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/loras/training.safetensors", 2, seed=19)
    with Shelf(adopt_config(tmp_path), writer=True) as shelf:
        def write_after_the_commit(progress) -> None:
            if progress.phase == "linking":                      # in the library, not yet linked
                assert shelf.index.count() == 1
                with open(app, "r+b") as f:
                    f.seek(-1, os.SEEK_END)
                    f.write(b"\x01")
        [result] = adopt(shelf, [str(install)], on_progress=write_after_the_commit).results
        assert result.outcome is Outcome.SKIPPED and result.reason is SkipReason.CHANGED
        assert not app.is_symlink() and os.stat(app).st_nlink == 1
        assert shelf.index.count() == 0 and _library_files(shelf) == []


def _cli_under_strace(tmp_path: Path, strace_args: list[str], *args: str) -> tuple[subprocess.CompletedProcess, int]:
    if not shutil.which("strace"):
        pytest.skip("strace is not installed (apt-get install strace)")
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nlibrary = "{tmp_path / "library"}"\ninboxes = ["{tmp_path / "inbox"}"]\n'
                      f'state_dir = "{tmp_path / "state"}"\n[import]\nreserve_mib = 0\n')
    command = [sys.executable, "-m", "modelshelf", "--config", str(config)]
    assert subprocess.run([*command, "list"], capture_output=True).returncode == 0   # the library exists first
    log = tmp_path / "strace.log"
    proc = subprocess.run(["strace", "-f", "-qq", "-o", str(log), *strace_args, *command, "adopt", *args],
                          capture_output=True, text=True, timeout=120)
    return proc, log.read_text().count("INJECTED")


@pytest.mark.fault
def test_eacces_making_links_in_the_app_folder_changes_nothing(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    write_big_safetensors(install / "models/loras/mine.safetensors", 2, seed=16)
    before = snapshot(install)
    proc, injected = _cli_under_strace(tmp_path, ["-e", "trace=symlink,symlinkat,link,linkat",
                                                  "-e", "inject=symlink,symlinkat:error=EACCES"],
                                       "--json", str(install))
    assert injected >= 1 and proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    [entry] = json.loads(proc.stdout)["files"]
    assert entry["reason"] == "the app folder cannot be written" and "Permission denied" in entry["detail"]
    assert snapshot(install) == before
    assert not (tmp_path / "library").exists() or not any((tmp_path / "library").glob("*/*"))


@pytest.mark.fault
def test_eacces_renaming_over_the_app_file_keeps_it_and_the_library_copy(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/loras/mine.safetensors", 2, seed=17)
    digest = sha256(app)
    # rename(2) calls: origin.json in staging, metadata.json, then the link over the app's name
    # (strace's -P matches a rename's first path only, and the temp link's name is random).
    proc, injected = _cli_under_strace(tmp_path, ["-e", "trace=rename", "-e", "inject=rename:error=EACCES:when=3"],
                                       str(install))
    assert injected == 1 and proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "replacing it by a link to" in proc.stdout and "Permission denied" in proc.stdout, proc.stdout
    assert not app.is_symlink() and sha256(app) == digest
    assert [p.name for p in app.parent.iterdir()] == [app.name]          # the temp link is gone
    [model] = json.loads(subprocess.run([sys.executable, "-m", "modelshelf", "--config", str(tmp_path / "config.toml"),
                                         "list", "--json"], capture_output=True, text=True).stdout)
    assert model["sha256"] == digest                                     # verified in the library, kept


@pytest.mark.fault
def test_a_file_that_cannot_be_read_is_reported(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    app = write_big_safetensors(install / "models/loras/secret.safetensors", 1, seed=18)
    proc, injected = _cli_under_strace(tmp_path, ["-P", str(app), "-e", "trace=openat",
                                                  "-e", "inject=openat:error=EACCES"], "--json", str(install))
    assert injected >= 1 and proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    [skipped] = json.loads(proc.stdout)["skipped"]
    assert skipped["reason"] == "cannot be read" and "Permission denied" in skipped["detail"]
    assert not app.is_symlink()


def test_a_name_that_is_not_utf8_is_skipped_with_the_reason(tmp_path: Path) -> None:
    install = comfy(tmp_path / "ComfyUI")
    odd = Path(os.fsdecode(os.fsencode(install / "models/loras") + b"/caf\xe9.safetensors"))
    write_big_safetensors(odd, 1, seed=23)
    with Shelf(adopt_config(tmp_path), writer=True) as shelf:
        report = adopt(shelf, [str(install)])
        assert report.results == () and [s.reason for s in report.plan.skipped] == [SkipReason.NOT_UTF8]
        assert json.dumps(to_dict(report)) and "caf\\xe9" in lines(to_dict(report))[0]
    assert not odd.is_symlink()

