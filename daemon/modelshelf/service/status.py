"""What the daemon is doing right now: one thread-safe board that the STATUS= line, the status
socket and the CLI all read from."""

from __future__ import annotations

import collections
import enum
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..ingest import ImportProgress, ImportResult


class State(enum.StrEnum):
    STARTING = "starting"
    IDLE = "idle"
    IMPORTING = "importing"
    RELOADING = "reloading"
    STOPPING = "stopping"


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    IMPORTED = "imported"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass
class JobView:
    job_id: str
    source: str
    state: JobState = JobState.QUEUED
    phase: str = ""
    done_bytes: int = 0
    total_bytes: int = 0
    mb_per_s: float = 0.0
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    model_id: str | None = None
    path: str | None = None
    error: str | None = None

    @property
    def percent(self) -> float:
        return 100.0 * self.done_bytes / self.total_bytes if self.total_bytes else 0.0


class StatusBoard:
    def __init__(self, model_count: int = 0, history: int = 50) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)   # a job ended: wait_idle() looks again
        self.state = State.STARTING
        self.model_count = model_count
        self._jobs: dict[str, JobView] = {}
        self._finished: collections.deque[JobView] = collections.deque(maxlen=history)
        self._counts = collections.Counter[str]()
        self.inbox_waiting = 0
        self.started_at = time.time()
        self.last_error: str | None = None

    def set_state(self, state: State) -> None:
        with self._lock:
            self.state = state

    def queued(self, job_id: str, source: Path) -> None:
        with self._lock:
            self._jobs[job_id] = JobView(job_id, str(source))

    def forget(self, job_id: str) -> None:
        """A queued job that was never taken (the daemon was stopping)."""
        with self._lock:
            self._jobs.pop(job_id, None)
            self._changed.notify_all()

    def started(self, job_id: str) -> None:
        with self._lock:
            job = self._jobs[job_id]
            job.state, job.started_at = JobState.RUNNING, time.time()

    def progress(self, p: ImportProgress) -> None:
        with self._lock:
            job = self._jobs.get(p.job_id)
            if job is None:
                return
            job.phase, job.done_bytes, job.total_bytes = p.phase, p.done_bytes, p.total_bytes
            elapsed = time.time() - (job.started_at or time.time())
            job.mb_per_s = p.done_bytes / elapsed / 1e6 if elapsed > 0 else 0.0

    def finished(self, job_id: str, result: ImportResult | None = None, error: str | None = None) -> None:
        with self._lock:
            job = self._jobs.pop(job_id)
            job.finished_at = time.time()
            if result is not None:
                job.state, job.model_id, job.path = JobState(result.outcome.value), result.model_id, result.path
                job.done_bytes = job.total_bytes = result.size_bytes
                if job.state is JobState.IMPORTED:
                    self.model_count += 1
            else:
                job.state, job.error = JobState.FAILED, error
                self.last_error = error
            self._counts[job.state] += 1
            self._finished.append(job)
            self._changed.notify_all()

    def running(self) -> int:
        with self._lock:
            return sum(j.state is JobState.RUNNING for j in self._jobs.values())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs (an import, or an adoption asked for over the socket); False if
        one still does after timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not any(j.state is JobState.RUNNING for j in self._jobs.values()), timeout)

    def jobs(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            running = [asdict(j) | {"percent": round(j.percent, 1)} for j in self._jobs.values()
                       if j.state is JobState.RUNNING]
            queued = [asdict(j) for j in self._jobs.values() if j.state is JobState.QUEUED]
            recent = [asdict(j) for j in reversed(self._finished)]
        return {"running": running, "queued": queued, "recent": recent}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            running = [j for j in self._jobs.values() if j.state is JobState.RUNNING]
            return {"state": self.state.value, "models": self.model_count,
                    "running": [asdict(j) | {"percent": round(j.percent, 1)} for j in running],
                    "queued": len(self._jobs) - len(running),
                    "inbox_waiting": self.inbox_waiting, "counts": dict(self._counts),
                    "last_error": self.last_error, "uptime_s": round(time.time() - self.started_at, 1),
                    "status_line": self._line()}

    def status_line(self) -> str:
        with self._lock:
            return self._line()

    def _line(self) -> str:
        """`importing sdxl.safetensors 41% 612 MB/s · 2 queued` / `idle · 312 models · inbox empty`.
        Called with the lock held, on every status tick: reads the jobs, copies nothing."""
        running = [j for j in self._jobs.values() if j.state is JobState.RUNNING]
        queued = len(self._jobs) - len(running)
        if running:
            parts = [f"importing {Path(j.source).name} {j.percent:.0f}% {j.mb_per_s:.0f} MB/s" for j in running]
            parts.append(f"{queued} queued" if queued else self._models())
            return " · ".join(parts)
        if self.state in (State.STARTING, State.STOPPING, State.RELOADING):
            return f"{self.state.value} · {self._models()}"
        waiting = (f"{self.inbox_waiting} arriving" if self.inbox_waiting else "inbox empty")
        tail = f" · last error: {self.last_error[:80]}" if self.last_error else ""
        return f"idle · {self._models()} · {waiting}{tail}"

    def _models(self) -> str:
        return f"{self.model_count} model" + ("" if self.model_count == 1 else "s")

