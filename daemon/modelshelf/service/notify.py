"""sd_notify: tell systemd we are ready, what we are doing, and that we are alive.

Written here rather than with the sdnotify package: sdnotify 0.3.2 encodes messages as latin-1
and swallows errors, so a STATUS line with a Cyrillic or CJK file name never reaches systemd.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    """Sends datagrams to $NOTIFY_SOCKET (nothing at all when not run by systemd)."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._address = ("\0" + address[1:]) if address.startswith("@") else address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._warned = False
        if self._address:
            # Non-blocking: if systemd's queue is full, a status line is dropped rather than the
            # daemon's main thread hanging in sendto (found by the crash suite).
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str | int) -> bool:
        """notify(READY=1, STATUS="…"): one datagram, UTF-8, newline-separated assignments."""
        if self._sock is None:
            return False
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode("utf-8", "replace")
        try:
            with self._lock:
                self._sock.sendto(message, self._address)
        except BlockingIOError:
            log.debug("systemd's notify queue is full: dropped %s", message[:60])
            return False
        except OSError as e:
            if not self._warned:
                self._warned = True
                log.warning("cannot reach systemd at NOTIFY_SOCKET (%s): status updates are lost", e)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval() -> float | None:
    """Half of WATCHDOG_USEC (when it is meant for this process), in seconds."""
    usec, pid = os.environ.get("WATCHDOG_USEC", ""), os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2e6


class WatchdogPinger:
    """Sends WATCHDOG=1 every interval while healthy() says the workers are alive: a hung or
    dead worker means no ping, and systemd restarts the service."""

    def __init__(self, notifier: Notifier, interval: float, healthy: Callable[[], bool]) -> None:
        self._notifier, self._interval, self._healthy = notifier, interval, healthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._healthy():
                self._notifier.send(WATCHDOG=1)
            else:
                log.error("a worker thread is not responding: withholding the watchdog ping")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
