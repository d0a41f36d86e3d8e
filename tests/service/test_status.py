"""service/status.py: the StatusBoard that the STATUS= line, the status socket and the CLI read.
Jobs go queued → running → imported/duplicate/failed; the line says what a user needs at a glance."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from modelshelf.ingest import ImportProgress, ImportResult
from modelshelf.ingest.importer import ImportOutcome
from modelshelf.service.status import JobState, State, StatusBoard

INBOX = Path("/home/u/inbox")


def result(job_id: str, outcome: ImportOutcome = ImportOutcome.IMPORTED, size: int = 1000) -> ImportResult:
    return ImportResult(job_id, INBOX / f"{job_id}.safetensors", outcome, f"id-{job_id}", f"lora/sdxl/{job_id}",
                        "lora", "sdxl", size, "copy", 0.1, source_removed=False)


def progress(job_id: str, done: int, total: int, phase: str = "copying") -> ImportProgress:
    return ImportProgress(job_id, INBOX / f"{job_id}.safetensors", phase, done, total)


def idle_board(models: int = 0) -> StatusBoard:
    board = StatusBoard(model_count=models)
    board.set_state(State.IDLE)
    return board


def test_job_states_are_the_words_the_socket_sends() -> None:
    assert [s.value for s in JobState] == ["queued", "running", "imported", "duplicate", "failed"]
    assert {o.value for o in ImportOutcome} <= {s.value for s in JobState}   # every outcome maps to a state
    assert [s.value for s in State] == ["starting", "idle", "importing", "reloading", "stopping"]


def test_the_idle_line() -> None:
    board = StatusBoard(model_count=1)
    assert board.status_line() == "starting · 1 model"
    board.set_state(State.IDLE)
    assert board.status_line() == "idle · 1 model · inbox empty"
    board.model_count = 312
    board.inbox_waiting = 2
    assert board.status_line() == "idle · 312 models · 2 arriving"
    board.model_count = 0
    board.inbox_waiting = 0
    assert board.status_line() == "idle · 0 models · inbox empty"
    for state in (State.RELOADING, State.STOPPING):
        board.set_state(state)
        assert board.status_line() == f"{state.value} · 0 models"


def test_a_job_from_queued_to_imported() -> None:
    board = idle_board(models=1)
    board.queued("x", INBOX / "x.safetensors")
    for other in ("y", "z"):
        board.queued(other, INBOX / f"{other}.gguf")
    assert [j["state"] for j in board.jobs()["queued"]] == ["queued"] * 3
    assert board.jobs()["running"] == [] and board.snapshot()["queued"] == 3
    board.started("x")
    board.progress(progress("x", 41, 100))
    line = board.status_line()
    assert re.fullmatch(r"importing x\.safetensors 41% \d+ MB/s · 2 queued", line), line
    running = board.jobs()["running"]
    assert [(j["job_id"], j["state"], j["phase"], j["percent"]) for j in running] == [("x", "running", "copying", 41.0)]
    assert running[0]["started_at"] is not None
    board.finished("x", result("x", size=5000))
    assert board.model_count == 2
    recent = board.jobs()["recent"]
    assert [(j["state"], j["model_id"], j["path"], j["done_bytes"], j["total_bytes"]) for j in recent] == [
        ("imported", "id-x", "lora/sdxl/x", 5000, 5000)]
    assert board.snapshot()["counts"] == {"imported": 1} and board.snapshot()["queued"] == 2


def test_the_line_with_one_import_and_nothing_queued_counts_models() -> None:
    board = idle_board(models=1)
    board.queued("x", INBOX / "sub" / "big model.gguf")
    board.started("x")
    assert re.fullmatch(r"importing big model\.gguf 0% \d+ MB/s · 1 model", board.status_line())
    board.progress(progress("x", 0, 0))                     # size not known yet: 0%, not a ZeroDivisionError
    assert board.jobs()["running"][0]["percent"] == 0.0


def test_a_duplicate_is_counted_but_adds_no_model() -> None:
    board = idle_board(models=5)
    board.queued("d", INBOX / "d.safetensors")
    board.started("d")
    board.finished("d", result("d", ImportOutcome.DUPLICATE))
    assert board.model_count == 5 and board.snapshot()["counts"] == {"duplicate": 1}
    assert board.jobs()["recent"][0]["state"] == "duplicate"


def test_a_failure_is_shown_truncated_until_the_next() -> None:
    board = idle_board(models=1)
    error = "importing /home/u/inbox/broken.safetensors failed: " + "a very long reason " * 10
    board.queued("f", INBOX / "broken.safetensors")
    board.started("f")
    board.finished("f", error=error)
    line = board.status_line()
    assert line == f"idle · 1 model · inbox empty · last error: {error[:80]}"
    assert len(error) > 80 and error not in line
    snap = board.snapshot()
    assert snap["last_error"] == error and snap["counts"] == {"failed": 1}
    assert board.jobs()["recent"][0]["error"] == error and board.model_count == 1
    board.queued("g", INBOX / "g.safetensors")
    board.started("g")
    assert "last error" not in board.status_line()           # an import in progress is what matters now
    board.finished("g", error="second")
    assert board.status_line().endswith("last error: second")


def test_a_forgotten_job_is_gone_without_a_trace() -> None:
    board = idle_board()
    board.queued("q", INBOX / "q.gguf")
    board.forget("q")
    board.forget("never-queued")                              # the daemon may forget twice when stopping
    assert board.jobs() == {"running": [], "queued": [], "recent": []}
    assert board.snapshot()["counts"] == {} and board.status_line() == "idle · 0 models · inbox empty"
    board.progress(progress("q", 1, 2))                       # a late progress report is ignored
    assert board.jobs()["running"] == []


def test_history_is_bounded_newest_first() -> None:
    board = StatusBoard(history=3)
    for n in range(5):
        board.queued(str(n), INBOX / f"{n}.gguf")
        board.started(str(n))
        board.finished(str(n), result(str(n)))
    assert [j["job_id"] for j in board.jobs()["recent"]] == ["4", "3", "2"]
    assert board.snapshot()["counts"] == {"imported": 5} and board.model_count == 5   # counts keep everything


def test_snapshot_and_jobs_are_json_for_the_socket() -> None:
    board = idle_board(models=2)
    board.queued("a", INBOX / "a.gguf")
    board.started("a")
    board.progress(progress("a", 50, 200, phase="hashing"))
    board.queued("b", INBOX / "b.gguf")
    board.queued("c", INBOX / "c.gguf")
    board.started("c")
    board.finished("c", error="bad")
    snap = json.loads(json.dumps(board.snapshot()))
    assert (snap["state"], snap["models"], snap["queued"], snap["counts"], snap["last_error"]) == (
        "idle", 2, 1, {"failed": 1}, "bad")
    assert [(r["source"], r["phase"], r["percent"]) for r in snap["running"]] == [
        (str(INBOX / "a.gguf"), "hashing", 25.0)]
    assert snap["status_line"].startswith("importing a.gguf 25% ") and snap["uptime_s"] >= 0
    jobs = json.loads(json.dumps(board.jobs()))
    assert [j["job_id"] for j in jobs["queued"]] == ["b"] and jobs["recent"][0]["state"] == "failed"


def test_many_threads_report_at_once_and_every_job_is_counted() -> None:
    board = idle_board()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(200):
                job = f"{n}-{i}"
                board.queued(job, INBOX / f"{job}.gguf")
                board.started(job)
                board.progress(progress(job, 1, 2))
                if i % 4 == 0:
                    board.finished(job, error="boom")
                else:
                    board.finished(job, result(job))
        except BaseException as e:  # noqa: BLE001 - reported to the test thread
            errors.append(e)

    def reader(stop: threading.Event) -> None:
        while not stop.is_set():
            board.status_line()
            json.dumps(board.snapshot())

    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    watcher = threading.Thread(target=reader, args=(stop,))
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    stop.set()
    watcher.join(timeout=30)
    assert errors == []
    assert board.snapshot()["counts"] == {"imported": 600, "failed": 200} and board.model_count == 600
    assert board.status_line() == "idle · 600 models · inbox empty · last error: boom"
