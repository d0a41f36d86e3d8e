"""The arrival tracker as a pure state machine: fake clock, fake stats, the event sequences real
tools produce (watchdog 7 on inotify)."""

from __future__ import annotations

from pathlib import Path

from modelshelf.inbox import Arrival, ArrivalTracker, CheckResult, IgnoreRules, Incomplete, Signature
from modelshelf.inbox import EventKind as E

INBOX = Path("/inbox")
QUIET = 2.0


class World:
    """Fake files (path -> Signature) and a self-check that reports some as truncated."""

    def __init__(self) -> None:
        self.files: dict[Path, Signature] = {}
        self.truncated: set[Path] = set()
        self.tracker = ArrivalTracker(INBOX, quiet_seconds=QUIET, incomplete_after=30, ignore=IgnoreRules())
        self.now = 0.0

    def set(self, name: str, size: int, mtime: int | None = None, **kw) -> Path:
        path = INBOX / name
        self.files[path] = Signature(size, mtime if mtime is not None else int(self.now * 1e9), **kw)
        return path

    def event(self, name: str, kind: E) -> None:
        self.tracker.observe(INBOX / name, kind, self.now)

    def poll(self, advance: float = 0.0) -> list:
        self.now += advance
        return self.tracker.poll(self.now, self.files.get,
                                 lambda p: (CheckResult.TRUNCATED, "short") if p in self.truncated
                                 else (CheckResult.OK, ""))

    def ready_after(self, seconds: float, step: float = 0.5) -> list[Path]:
        out: list = []
        t = 0.0
        while t < seconds:
            out += self.poll(step)
            t += step
        return [d.path for d in out if isinstance(d, Arrival)]


def test_write_in_place_is_ready_after_close_and_quiet_period() -> None:
    w = World()
    w.set("a.gguf", 100)
    for kind in (E.CREATED, E.OPENED, E.MODIFIED):
        w.event("a.gguf", kind)
    assert w.ready_after(10) == []                     # still open for writing
    w.event("a.gguf", E.CLOSED_WRITE)
    assert w.ready_after(QUIET + 1.5) == [INBOX / "a.gguf"]


def test_same_fs_mv_is_created_without_open() -> None:
    w = World()
    w.set("m.safetensors", 10)
    w.event("m.safetensors", E.CREATED)
    assert w.ready_after(QUIET + 1) == [INBOX / "m.safetensors"]


def test_firefox_placeholder_part_then_rename() -> None:
    w = World()
    w.set("x.safetensors", 0)
    w.event("x.safetensors", E.CREATED)
    w.event("x.safetensors", E.CLOSED_WRITE)
    w.set("x.safetensors.part", 500)
    w.event("x.safetensors.part", E.CREATED)           # ignored name
    assert w.ready_after(10) == []                      # a 0-byte file is never ready
    del w.files[INBOX / "x.safetensors.part"]
    w.set("x.safetensors", 500)
    w.event("x.safetensors", E.MOVED_IN)
    assert w.ready_after(QUIET + 1) == [INBOX / "x.safetensors"]


def test_rsync_temp_then_rename() -> None:
    w = World()
    w.set(".m.gguf.Xa12", 50)
    w.event(".m.gguf.Xa12", E.CREATED)
    w.event(".m.gguf.Xa12", E.CLOSED_WRITE)
    assert w.ready_after(5) == []                       # dotfiles are ignored
    w.set("m.gguf", 50)
    w.event("m.gguf", E.MOVED_IN)
    assert w.ready_after(QUIET + 1) == [INBOX / "m.gguf"]


def test_slow_writer_is_not_ready_while_it_grows() -> None:
    w = World()
    w.set("slow.bin", 1)
    w.event("slow.bin", E.SCANNED)                      # found by a rescan, no events at all
    for size in range(2, 8):
        w.poll(1.0)
        w.set("slow.bin", size)                         # grows every second (< quiet period)
        assert w.poll(0.5) == []
    assert w.ready_after(QUIET + 1) == [INBOX / "slow.bin"]


def test_each_entry_is_handed_out_once_until_done() -> None:
    w = World()
    w.set("a.pt", 5)
    w.event("a.pt", E.CREATED)
    assert w.ready_after(QUIET + 1) == [INBOX / "a.pt"]
    for kind in (E.MODIFIED, E.CLOSED_WRITE, E.SCANNED):
        w.event("a.pt", kind)
    assert w.ready_after(QUIET * 3) == []
    w.tracker.done(INBOX / "a.pt")
    w.event("a.pt", E.SCANNED)
    assert w.ready_after(QUIET + 1) == [INBOX / "a.pt"]


def test_an_entry_that_changed_under_its_import_arrives_again_once_quiet() -> None:
    w = World()
    w.set("a.pt", 5)
    w.event("a.pt", E.CREATED)
    assert w.ready_after(QUIET + 1) == [INBOX / "a.pt"]
    w.event("a.pt", E.MODIFIED)                        # ignored while handed out
    w.set("a.pt", 9)                                   # still growing when the import gives up
    w.tracker.done(INBOX / "a.pt", again_at=w.now)
    assert w.ready_after(QUIET / 2) == []              # not before it has been quiet again
    w.set("b.pt", 5)
    w.tracker.done(INBOX / "b.pt")                     # a plain done offers nothing
    assert w.ready_after(QUIET + 1) == [INBOX / "a.pt"]


def test_truncated_download_waits_then_is_reported_incomplete() -> None:
    w = World()
    w.set("cut.safetensors", 100)
    w.truncated.add(INBOX / "cut.safetensors")
    w.event("cut.safetensors", E.MOVED_IN)
    assert w.ready_after(20) == []
    out = [d for d in (w.poll(5) + w.poll(10) + w.poll(10)) if isinstance(d, Incomplete)]
    assert [(d.path, d.reason) for d in out] == [(INBOX / "cut.safetensors", "short")]


def test_folder_is_ready_when_the_whole_tree_is_quiet() -> None:
    w = World()
    w.set("pipe", 10, files=1, is_folder=True)
    w.event("pipe", E.CREATED)
    w.event("pipe/unet/model.safetensors", E.CREATED)
    for files in range(2, 5):
        w.poll(1.0)
        w.set("pipe", 10 * files, files=files, is_folder=True)
        w.event("pipe/vae/x.json", E.CLOSED_WRITE)
    w.set("pipe", 50, files=5, partial_files=1, is_folder=True)   # a .part file still inside
    assert w.ready_after(QUIET * 3) == []
    w.set("pipe", 50, files=5, is_folder=True)
    assert w.ready_after(QUIET + 1) == [INBOX / "pipe"]


def test_deleted_before_ready_is_forgotten_and_failed_folder_ignored() -> None:
    w = World()
    w.set("gone.gguf", 5)
    w.event("gone.gguf", E.CREATED)
    w.event("gone.gguf", E.DELETED)
    del w.files[INBOX / "gone.gguf"]
    assert w.tracker.pending == 0
    w.set("failed", 5, files=1, is_folder=True)        # a stat exists: only the rule keeps it out
    w.event("failed/x.gguf", E.CREATED)
    assert w.tracker.pending == 0
    assert w.ready_after(QUIET * 2) == []


def test_lost_close_event_does_not_block_forever() -> None:
    w = World()
    w.set("a.gguf", 9)
    w.event("a.gguf", E.CREATED)
    w.event("a.gguf", E.OPENED)                         # its close was lost in an overflow
    w.event("a.gguf", E.SCANNED)
    assert w.ready_after(QUIET * 5) == []
    assert w.ready_after(QUIET * 6) == [INBOX / "a.gguf"]


def test_diffusers_folder_waits_for_every_listed_component(tmp_path: Path) -> None:
    import shutil

    from modelshelf.inbox.inspect import self_check

    from ..models import write_diffusers
    pipe = write_diffusers(tmp_path / "pipe")
    assert self_check(pipe) == (CheckResult.OK, "")
    shutil.rmtree(pipe / "vae")
    assert self_check(pipe) == (CheckResult.TRUNCATED, "component vae/ listed in model_index.json is missing")
    (pipe / "vae").mkdir()
    shard = pipe / "unet" / "diffusion_pytorch_model.safetensors"
    (pipe / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(shard.read_bytes()[:-5])
    result, reason = self_check(pipe)
    assert result is CheckResult.TRUNCATED and reason.startswith("vae/diffusion_pytorch_model.safetensors: truncated")
