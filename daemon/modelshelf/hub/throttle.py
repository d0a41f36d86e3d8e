"""Shared by every thread that calls one service (the Hub, CivitAI): a sliding-window rate limit
(with Retry-After pauses) and a circuit breaker. Both take an injectable clock, so tests need no
sleeps, and the error they raise (`unavailable(reason, retry_after)`), so each service keeps its own."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from ..errors import HubUnavailableError

Clock = Callable[[], float]
Unavailable = Callable[..., Exception]     # (reason, retry_after=...) -> the service's error


class SlidingWindowThrottle:
    """At most `limit` calls in any `window` seconds, across all threads."""

    def __init__(self, limit: int, window: float = 60.0, clock: Clock = time.monotonic,
                 unavailable: Unavailable = HubUnavailableError) -> None:
        self.limit, self.window, self.clock, self.unavailable = limit, window, clock, unavailable
        self._calls: collections.deque[float] = collections.deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Seconds until a call may go out; 0.0 means one was taken now."""
        with self._lock:
            now = self.clock()
            while self._calls and self._calls[0] <= now - self.window:
                self._calls.popleft()
            if now < self._paused_until:
                return self._paused_until - now
            if len(self._calls) < self.limit:
                self._calls.append(now)
                return 0.0
            return self._calls[0] + self.window - now

    def acquire(self, wait: Callable[[float], bool], max_wait: float) -> None:
        """Take a slot, waiting with wait(seconds) (which returns True to give up) at most max_wait."""
        waited = 0.0
        while (d := self.delay()) > 0:
            if waited + d > max_wait or wait(d):
                raise self.unavailable(f"throttled: next call allowed in {d:.0f} s", retry_after=d)
            waited += d

    def pause(self, seconds: float) -> None:
        """Retry-After: no thread calls for this long."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    def in_window(self) -> int:
        with self._lock:
            now = self.clock()
            return sum(1 for t in self._calls if t > now - self.window)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self.clock())


class CircuitBreaker:
    """After `threshold` failures in a row, refuse calls for `cooldown` seconds (doubling while
    the Hub keeps failing, up to an hour); one trial call then decides."""

    def __init__(self, threshold: int = 5, cooldown: float = 300.0, clock: Clock = time.monotonic,
                 unavailable: Unavailable = HubUnavailableError) -> None:
        self.threshold, self.base_cooldown, self.clock, self.unavailable = threshold, cooldown, clock, unavailable
        self._failures = 0
        self._open_until = 0.0
        self._cooldown = cooldown
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            if self._failures >= self.threshold and self.clock() < self._open_until:
                raise self.unavailable(f"circuit breaker open for {self._open_until - self.clock():.0f} s "
                                          f"after {self._failures} failures",
                                          retry_after=self._open_until - self.clock())

    def success(self) -> None:
        with self._lock:
            self._failures, self._cooldown = 0, self.base_cooldown

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                if self.clock() >= self._open_until and self._open_until:
                    self._cooldown = min(self._cooldown * 2, 3600.0)  # the trial call failed too
                self._open_until = self.clock() + self._cooldown

    def open_for(self) -> float:
        with self._lock:
            if self._failures < self.threshold:
                return 0.0
            return max(0.0, self._open_until - self.clock())
