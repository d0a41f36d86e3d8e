from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from modelshelf.config import ImportMode
from modelshelf.errors import ImportFailedError, NotAModelError
from modelshelf.ingest import ImportJob, ImportOutcome, recover_staging
from modelshelf.ingest.staging import stage_job
from modelshelf.library import read_metadata
from modelshelf.shelf import Shelf

from ..helpers import EMPTY_LIBRARY, digests, files_under
from ..models import write_big_safetensors, write_diffusers, write_safetensors


def run(shelf: Shelf, source: Path, mode: ImportMode = ImportMode.COPY, **kw):
    return shelf.importer(**kw).run(ImportJob(source, mode))


def test_copy_import_places_file_metadata_and_index(shelf: Shelf, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "sdxl_lora.safetensors", "lora_sdxl")
    b3, sha = digests(src)
    result = run(shelf, src)
    assert result.outcome is ImportOutcome.IMPORTED
    assert result.path == "lora/sdxl/sdxl_lora"
    folder = shelf.library.root / result.path
    assert (folder / "sdxl_lora.safetensors").read_bytes() == src.read_bytes()
    meta = read_metadata(folder / "metadata.json")
    assert (meta.blake3, meta.sha256, meta.model_id) == (b3, sha, b3[:16])
    assert meta.files[0].name == "sdxl_lora.safetensors" and meta.pending_online_lookup
    assert shelf.index.get(result.model_id).path == result.path
    assert src.exists() and not result.source_removed
    assert files_under(shelf.library.staging) == []


def test_move_on_one_filesystem_links_then_removes_the_source(shelf: Shelf, tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "big.safetensors", 3)
    b3, _ = digests(src)
    result = run(shelf, src, ImportMode.MOVE)
    assert (result.method, result.source_removed) == ("link", True)
    assert not src.exists()
    stored = shelf.library.root / result.path / "big.safetensors"
    assert digests(stored)[0] == b3 and stored.stat().st_nlink == 1


def test_a_download_renamed_over_the_source_mid_import_is_not_deleted(shelf: Shelf, tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "big.safetensors", 3)
    b3, _ = digests(src)
    newer = write_big_safetensors(tmp_path / "newer.safetensors", 3, seed=1)
    newer_digests = digests(newer)

    def replace_once(progress) -> None:      # the user saves a new download under the same name
        if newer.exists():
            os.rename(newer, src)
    result = run(shelf, src, ImportMode.MOVE, on_progress=replace_once)
    assert (result.method, result.source_removed) == ("link", False)
    assert digests(src) == newer_digests      # the new file is still in the inbox, untouched
    assert digests(shelf.library.root / result.path / "big.safetensors")[0] == b3


@pytest.mark.parametrize("change", ["replaced", "added", "removed"])
def test_a_folder_changed_mid_import_stays_in_the_inbox_as_it_now_is(shelf: Shelf, tmp_path: Path,
                                                                      change: str) -> None:
    src = write_diffusers(tmp_path / "inbox" / "sdxl-pipe")
    read = write_diffusers(tmp_path / "as-read", salt=0)
    vae = src / "vae" / "diffusion_pytorch_model.safetensors"
    newer = write_safetensors(tmp_path / "newer.safetensors", "sdxl_vae", salt=9)
    newer_bytes = newer.read_bytes()
    done: list[bool] = []

    def change_once(progress) -> None:       # once every file was linked and hashed
        if done or progress.done_bytes < progress.total_bytes:
            return
        done.append(True)
        if change == "replaced":
            os.rename(newer, vae)
        elif change == "added":
            (src / "notes.txt").write_text("my settings")
        else:
            (src / "tokenizer" / "vocab.json").unlink()
    result = run(shelf, src, ImportMode.MOVE, on_progress=change_once)
    assert result.outcome is ImportOutcome.IMPORTED and not result.source_removed
    assert src.is_dir() and not list(src.parent.glob(".modelshelf-done-*"))   # back under its name
    imported = shelf.library.root / result.path
    assert (imported / "vae/diffusion_pytorch_model.safetensors").read_bytes() == (
        read / "vae/diffusion_pytorch_model.safetensors").read_bytes()          # what was read
    assert (vae.read_bytes() == newer_bytes) == (change == "replaced")      # the new download kept
    assert (src / "notes.txt").exists() == (change == "added")
    assert (src / "tokenizer" / "vocab.json").exists() == (change != "removed")


def test_a_moved_folder_with_unsafe_names_leaves_the_inbox(shelf: Shelf, tmp_path: Path) -> None:
    src = write_diffusers(tmp_path / "inbox" / "pipe")
    (src / 'notes: "v2"?.txt').write_text("renamed in the library, not in the inbox")
    result = run(shelf, src, ImportMode.MOVE)
    assert result.source_removed and not src.exists() and list(src.parent.iterdir()) == []
    assert (shelf.library.root / result.path / "notes_ _v2__.txt").is_file()


def test_folder_names_that_become_the_same_stay_two_files(shelf: Shelf, tmp_path: Path) -> None:
    src = write_diffusers(tmp_path / "inbox" / "pipe")
    (src / "notes:v1.txt").write_text("first")
    (src / "notes_v1.txt").write_text("second")
    (src / "NOTES_V1.txt").write_text("third")          # the same name on an NTFS library
    result = run(shelf, src, ImportMode.MOVE)
    folder = shelf.library.root / result.path
    texts = sorted(p.read_text() for p in folder.iterdir() if p.name.lower().startswith("notes_v1"))
    assert texts == ["first", "second", "third"]
    assert result.source_removed and not src.exists()       # all read, so the source could go


def test_duplicate_is_not_stored_twice(shelf: Shelf, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "a.safetensors", "vae_flux")
    first = run(shelf, src)
    (tmp_path / "other").mkdir()
    again = tmp_path / "other" / "renamed.safetensors"
    again.write_bytes(src.read_bytes())
    second = run(shelf, again)
    assert second.outcome is ImportOutcome.DUPLICATE and second.model_id == first.model_id
    assert shelf.index.count() == 1 and again.exists()
    moved = run(shelf, again, ImportMode.MOVE)
    assert moved.outcome is ImportOutcome.DUPLICATE and moved.source_removed and not again.exists()
    assert len([p for p in shelf.library.root.rglob("*.safetensors")]) == 1


def test_name_collision_with_other_content_gets_hash_suffix(shelf: Shelf, tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = run(shelf, write_safetensors(tmp_path / "x" / "model.safetensors", "lora_flux", salt=1))
    b = run(shelf, write_safetensors(tmp_path / "y" / "model.safetensors", "lora_flux", salt=2))
    assert a.path == "lora/flux/model"
    assert b.path == f"lora/flux/model-{shelf.index.get(b.model_id).blake3[:8]}"


def test_unsafe_names_are_sanitized_but_kept_readable(shelf: Shelf, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / 'what?: "a|b".safetensors', "t5xxl_fp16")
    result = run(shelf, src)
    assert result.path == "text_encoder/t5xxl/what__ _a_b_"
    assert (shelf.library.root / result.path / 'what__ _a_b_.safetensors').is_file()


def test_diffusers_folder_is_one_model(shelf: Shelf, tmp_path: Path) -> None:
    src = write_diffusers(tmp_path / "sdxl-base-1.0")
    result = run(shelf, src, ImportMode.MOVE)
    assert (result.model_type, result.family, result.path) == ("diffusers", "sdxl", "diffusers/sdxl/sdxl-base-1.0")
    folder = shelf.library.root / result.path
    assert files_under(folder) == ["metadata.json", "model_index.json", "text_encoder/config.json",
                                   "text_encoder/diffusion_pytorch_model.safetensors", "tokenizer/vocab.json",
                                   "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
                                   "vae/config.json", "vae/diffusion_pytorch_model.safetensors"]
    meta = read_metadata(folder / "metadata.json")
    assert len(meta.files) == 8 and meta.primary_file is None
    assert not src.exists()


def test_folder_with_a_truncated_shard_is_refused_whole(shelf: Shelf, tmp_path: Path) -> None:
    src = write_diffusers(tmp_path / "broken")
    shard = src / "unet" / "diffusion_pytorch_model.safetensors"
    os.truncate(shard, shard.stat().st_size - 1)
    with pytest.raises(NotAModelError, match="truncated"):
        run(shelf, src)
    assert shelf.index.count() == 0 and files_under(shelf.library.root) == EMPTY_LIBRARY


def test_cancel_mid_copy_leaves_nothing(shelf: Shelf, tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "big.safetensors", 64)
    before = digests(src)
    cancel = threading.Event()
    seen = []

    def on_progress(p) -> None:
        seen.append(p.done_bytes)
        cancel.set()

    with pytest.raises(ImportFailedError, match="import cancelled"):
        run(shelf, src, on_progress=on_progress, cancel=cancel)
    assert seen and seen[-1] < src.stat().st_size
    assert files_under(shelf.library.root) == EMPTY_LIBRARY and shelf.index.count() == 0
    assert digests(src) == before


def test_progress_reaches_the_total(shelf: Shelf, tmp_path: Path) -> None:
    src = write_big_safetensors(tmp_path / "big.safetensors", 20)
    seen = []
    run(shelf, src, on_progress=seen.append)
    assert [p.done_bytes for p in seen] == sorted(p.done_bytes for p in seen)
    assert seen[-1].done_bytes == seen[-1].total_bytes == src.stat().st_size


def test_source_inside_the_library_is_refused(shelf: Shelf, tmp_path: Path) -> None:
    result = run(shelf, write_safetensors(tmp_path / "m.safetensors", "clip_l"))
    inside = shelf.library.root / result.path / "m.safetensors"
    with pytest.raises(ImportFailedError, match="already inside the library"):
        run(shelf, inside, ImportMode.MOVE)
    assert inside.exists()


def test_symlink_is_followed_for_copy_and_refused_for_move(shelf: Shelf, tmp_path: Path) -> None:
    target = write_safetensors(tmp_path / "real.safetensors", "easynegative")
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    with pytest.raises(NotAModelError, match="is a symlink"):
        run(shelf, link, ImportMode.MOVE)
    assert run(shelf, link).outcome is ImportOutcome.IMPORTED and target.exists()


def test_wal_is_checkpointed_every_five_imports(shelf: Shelf, tmp_path: Path) -> None:
    importer = shelf.importer()
    wal = Path(str(shelf.index.path) + "-wal")
    sizes = []
    for i in range(5):
        importer.run(ImportJob(write_safetensors(tmp_path / f"e{i}.safetensors", "easynegative", salt=i),
                               ImportMode.COPY))
        sizes.append(wal.stat().st_size)
    assert all(s > 0 for s in sizes[:4]) and sizes[4] == 0


def test_leftover_staging_is_cleaned_and_renamed_sources_return(config, tmp_path: Path) -> None:
    with Shelf(config, writer=True) as shelf:
        src = write_safetensors(tmp_path / "moved.safetensors", "clip_l")
        copied = write_safetensors(tmp_path / "copied.safetensors", "t5xxl_fp16")
        job = stage_job(shelf.library, "crashed1", {"moved.safetensors": src})
        os.rename(src, job.payload / "moved.safetensors")       # a rename-mode move, then a crash
        other = stage_job(shelf.library, "crashed2", {"copied.safetensors": copied})
        (other.payload / "copied.safetensors.tmp").write_bytes(b"partial")
    with Shelf(config, writer=True) as shelf:                    # start-up recovery
        assert files_under(shelf.library.staging) == []
    assert src.exists() and copied.exists()


def test_recovery_report_counts(shelf: Shelf, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "m.safetensors", "clip_l")
    job = stage_job(shelf.library, "j", {"m.safetensors": src})
    os.rename(src, job.payload / "m.safetensors")
    report = recover_staging(shelf.library)
    assert report.jobs_removed == 1 and report.sources_restored == (str(src),)
    assert json.loads(json.dumps(report.problems)) == []


def test_a_model_placed_just_before_a_crash_is_indexed_at_start(config, tmp_path: Path) -> None:
    from modelshelf.library import write_metadata
    with Shelf(config, writer=True) as shelf:
        src = write_safetensors(tmp_path / "late.safetensors", "clip_l")
        result = run(shelf, src)
        meta = read_metadata(shelf.library.root / result.path / "metadata.json")
        shelf.index.remove(result.model_id)               # as if killed between the rename and the index commit
        shelf.index.mark_dirty(result.path)               # what _place records before its rename
        job = stage_job(shelf.library, "crashed3", {"late.safetensors": src})
        os.rmdir(job.payload)                             # the payload had been renamed into place
        write_metadata(shelf.library.root / result.path, meta)
    with Shelf(config, writer=True) as shelf:
        assert shelf.index.get(result.model_id).path == result.path
        assert files_under(shelf.library.staging) == []


def test_an_unindexed_duplicate_on_disk_gets_indexed(shelf: Shelf, tmp_path: Path) -> None:
    src = write_safetensors(tmp_path / "d.safetensors", "clip_l")
    first = run(shelf, src)
    shelf.index.remove(first.model_id)                    # the index lags behind the library
    again = run(shelf, src, ImportMode.MOVE)
    assert again.outcome is ImportOutcome.DUPLICATE and again.source_removed
    assert shelf.index.get(first.model_id).path == first.path
