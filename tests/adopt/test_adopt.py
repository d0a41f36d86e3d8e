"""Adoption on real folder trees: one library copy per content, every app path still reading
the same bytes, the space given back measured on disk, a dry run that changes nothing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from modelshelf.adopt import Decision, Outcome, adopt, to_dict
from modelshelf.index import ModelIndex, rebuild_index

from .conftest import sha256, snapshot


def test_dry_run_changes_nothing_and_plans_what_the_run_does(world_shelf, tmp_path: Path) -> None:
    shelf, world = world_shelf
    before = snapshot(world.versions, world.a1111, shelf.library.root)
    plan = adopt(shelf, [], dry_run=True).plan
    plan_a1111 = adopt(shelf, [str(world.a1111)], dry_run=True).plan
    assert snapshot(world.versions, world.a1111, shelf.library.root) == before
    assert not (tmp_path / "state" / "adopt.db").exists()
    decisions = {m.found.source.name: m.decision for m in plan.models}
    assert sorted(m.found.source.name for m in plan.models if m.decision is Decision.DUPLICATE) == \
        ["detail.safetensors", "juggernautXL.safetensors", "pair-again.safetensors"]
    assert decisions["sdxl-base"] is Decision.NEW and decisions["style.safetensors"] is Decision.NEW
    reasons = {s.path.name: s.reason.value for s in plan.skipped}
    assert reasons == {name: why for name, why in world.skipped.items() if name != ".cache"}
    assert {s.path.name for s in plan_a1111.skipped} == {".cache"}
    # Before anything is adopted the A1111 copies are new too; their duplicates are counted in the run.
    assert plan.gives_back == world.duplicate_blocks // 2


def test_adopt_leaves_one_copy_per_content_and_every_path_reads_the_same(world_shelf, tmp_path: Path) -> None:
    shelf, world = world_shelf
    first = adopt(shelf, [])                            # every configured install
    second = adopt(shelf, [str(world.a1111)])           # and A1111, as a folder of models
    for path, digest in world.models.items():
        assert path.is_symlink(), f"{path} was not replaced by a link"
        assert not os.path.isabs(os.readlink(path))     # one filesystem: relative symlinks
        assert Path(os.path.realpath(path)).is_relative_to(shelf.library.root)
        assert sha256(path) == digest, f"{path} no longer reads the same bytes"
    models = shelf.index.all()
    assert len(models) == world.contents + 1            # + the model linked from before
    assert len({m.blake3 for m in models}) == len(models)
    assert os.readlink(world.already_linked) and world.already_linked.is_symlink()
    results = first.results + second.results
    assert {r.outcome for r in results} == {Outcome.ADOPTED, Outcome.LINKED}
    assert first.freed + second.freed == world.duplicate_blocks
    assert second.plan.gives_back == second.freed
    links = shelf.registry.all()
    assert {r.target_path for r in links} == set(world.models)
    assert all((shelf.library.root / r.source).is_file() for r in links)
    with sqlite3.connect(tmp_path / "state" / "adopt.db") as journal:
        assert journal.execute("SELECT count(*) FROM adopting").fetchone() == (0,)
    assert not shelf.library.staging.exists() or not any(shelf.library.staging.iterdir())
    again = adopt(shelf, [str(world.versions), str(world.a1111)])   # nothing left to do
    assert again.results == () and again.plan.models == ()


def test_the_index_after_adoption_is_what_a_rebuild_gives(world_shelf, tmp_path: Path) -> None:
    shelf, world = world_shelf
    adopt(shelf, [])
    live = shelf.index.dump()
    rebuilt = ModelIndex(tmp_path / "rebuilt.db")
    rebuild_index(shelf.library, rebuilt)
    assert [r[:12] for r in rebuilt.dump()[0]] == [r[:12] for r in live[0]] and rebuilt.dump()[1] == live[1]
    rebuilt.close()


def test_json_report_counts_and_measures(world_shelf) -> None:
    shelf, world = world_shelf
    report = to_dict(adopt(shelf, []))
    in_comfyui = sum(p.is_relative_to(world.versions) for p in world.models)
    assert report["counts"] == {"adopted": in_comfyui - 3, "linked": 3}   # a checkpoint, a LoRA, the pair
    assert report["given_back"] == report["freed"] - report["added"]
    assert report["freed"] == world.duplicate_blocks // 2


def test_a_file_open_for_writing_is_skipped_one_open_for_reading_is_fine(world_shelf) -> None:
    shelf, world = world_shelf
    style = world.versions / "v0.3.10/models/loras/style.safetensors"
    ckpt = world.versions / "v0.2.0/models/checkpoints/juggernautXL.safetensors"
    with open(style, "r+b"), open(ckpt, "rb") as reader:
        report = adopt(shelf, [])
        assert reader.read(8)                                        # the loaded model reads on
    outcome = {r.path: r for r in report.results}
    assert outcome[style].outcome is Outcome.SKIPPED and outcome[style].reason.value.startswith("open for writing")
    assert not style.is_symlink() and ckpt.is_symlink()


def _bytes_read() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def test_every_file_is_read_once_and_a_hardlinked_pair_once_in_all(world_shelf) -> None:
    shelf, world = world_shelf
    inodes = {(st.st_dev, st.st_ino): st.st_size for p in world.models if p.is_relative_to(world.versions)
              for st in [os.stat(p)]}
    start = _bytes_read()
    adopt(shelf, [])
    read = _bytes_read() - start
    pair = os.stat(world.versions / "v0.3.10/models/loras/pair.safetensors").st_size
    # Headers are probed, SQLite and /proc are read: well under half the 4 MiB pair.
    assert sum(inodes.values()) <= read < sum(inodes.values()) + pair // 2, read
