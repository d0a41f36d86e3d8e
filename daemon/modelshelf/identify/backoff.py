"""An exponential backoff shared by every thread that calls one service: a 429 without
Retry-After pauses all of them 1 s, then 2, 4, ... up to 30 s, until a call succeeds."""

from __future__ import annotations

import threading


class SharedBackoff:
    def __init__(self, first: float = 1.0, cap: float = 30.0) -> None:
        self.first, self.cap = first, cap
        self._next = first
        self._lock = threading.Lock()

    def next_delay(self) -> float:
        """The pause for this 429; the next one waits twice as long (at most cap)."""
        with self._lock:
            delay, self._next = self._next, min(self._next * 2, self.cap)
            return delay

    def reset(self) -> None:
        with self._lock:
            self._next = self.first
