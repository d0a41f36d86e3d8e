"""Per-drive job queues: SSDs run 2 imports at a time, HDDs (and unknown drives) 1.

A job holds a slot on every drive it touches (source and library). All of a job's slots are
taken at once under one lock, in drive-id order, so two jobs can never each hold half of what the
other needs; a job whose drives are busy waits without blocking jobs for other drives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..errors import ShuttingDownError
from .detect import Drive

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Queued(Generic[T]):
    item: T
    drives: tuple[Drive, ...]


class DriveQueues(Generic[T]):
    """Owns `workers` threads that run `run(item)` for queued items as drive slots allow."""

    def __init__(self, run: Callable[[T], None], workers: int = 4, name: str = "drive-worker") -> None:
        self._run = run
        self._cond = threading.Condition()
        self._pending: list[Queued[T]] = []
        self._running: list[Queued[T]] = []
        self._in_use: dict[str, int] = {}
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def submit(self, item: T, drives: tuple[Drive, ...]) -> None:
        """Queue item; ShuttingDownError once stop() was called (nothing would run it)."""
        unique = tuple(sorted({d.id: d for d in drives}.values(), key=lambda d: d.id))
        with self._cond:
            if self._stopping:
                raise ShuttingDownError("new imports")
            self._pending.append(Queued(item, unique))
            self._cond.notify_all()

    def _take(self) -> Queued[T] | None:
        """Under the lock: the first pending job whose drives all have a free slot."""
        for i, q in enumerate(self._pending):
            if all(self._in_use.get(d.id, 0) < d.slots for d in q.drives):
                for d in q.drives:
                    self._in_use[d.id] = self._in_use.get(d.id, 0) + 1
                self._running.append(q)
                return self._pending.pop(i)
        return None

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (q := self._take()) is None:
                    self._cond.wait()
                if self._stopping:
                    return
            try:
                self._run(q.item)
            except Exception:  # the runner reports its own errors; a bug must not kill the worker
                log.exception("unexpected error in %s", threading.current_thread().name)
            finally:
                with self._cond:
                    self._running.remove(q)
                    for d in q.drives:
                        self._in_use[d.id] -= 1
                    self._cond.notify_all()

    def stop(self, timeout: float) -> bool:
        """Start no more jobs; wait up to timeout for running ones. True if all workers ended."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t.is_alive():
                t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def join(self) -> None:
        for t in self._threads:
            t.join()

    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads) and not self._stopping

    def snapshot(self) -> tuple[list[Queued[T]], list[Queued[T]]]:
        """(pending, running), oldest first."""
        with self._cond:
            return list(self._pending), list(self._running)
