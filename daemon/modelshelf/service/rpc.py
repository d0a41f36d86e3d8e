"""The status socket: newline-delimited JSON-RPC 2.0 on a unix stream socket.

A selector thread reads requests (so idle and half-open clients cost nothing); complete lines go
to a small pool that runs the method and writes the answer, then the client is read again.
Only the daemon's own user may connect (SO_PEERCRED); the socket is 0600 in a 0700 folder.
An empty line means `status`, so `socat - UNIX-CONNECT:status.sock` works by hand.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import resource
import selectors
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelshelfError

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 64 * 1024
PARSE_ERROR, INVALID_REQUEST, NO_METHOD, INVALID_PARAMS, INTERNAL, APP_ERROR = (
    -32700, -32600, -32601, -32602, -32603, -32000)

Method = Callable[[dict[str, Any]], Any]


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Client:
    sock: socket.socket
    buffer: bytearray = field(default_factory=bytearray)
    last_active: float = field(default_factory=time.monotonic)


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def prepare_socket_dir(path: Path) -> None:
    """The socket's folder: ours, 0700. Refuse a folder someone else owns."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = os.stat(path.parent)
    if st.st_uid != os.getuid():
        raise ModelshelfError(f"{path.parent} belongs to uid {st.st_uid}, not to you: choose another "
                              "[service] socket path")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(path.parent, 0o700)


class RpcServer:
    def __init__(self, path: Path, methods: dict[str, Method], *, idle_timeout: float = 30.0,
                 workers: int = 4) -> None:
        self.path, self.methods, self.idle_timeout = path, methods, idle_timeout
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._returning: queue.SimpleQueue[_Client] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="status-socket", daemon=True)
        self._resume_accept: float | None = None   # when accepting is paused (out of descriptors)
        self._last_warning: dict[bool, float] = {}   # paused or not -> when it was last logged

    def start(self) -> None:
        prepare_socket_dir(self.path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # stale: the writer lock already proved no daemon owns it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old_umask = os.umask(0o177)
        try:
            sock.bind(os.fspath(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        sock.listen(256)
        sock.setblocking(False)
        self._listener = sock
        self._selector.register(sock, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True)
        for key in list(self._selector.get_map().values()):
            if isinstance(key.data, _Client):
                key.data.sock.close()
        self._selector.close()
        if self._listener is not None:
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the selector thread --------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._maybe_resume_accept()
            for key, _ in self._selector.select(timeout=self._select_timeout()):
                if key.data == "listen":
                    self._accept()
                elif key.data == "wake":
                    os.read(self._wake_r, 4096)
                else:
                    self._read(key.data)
            while True:
                try:
                    client = self._returning.get_nowait()
                except queue.Empty:
                    break
                client.last_active = time.monotonic()
                self._selector.register(client.sock, selectors.EVENT_READ, client)
                if b"\n" in client.buffer:
                    self._dispatch(client)
            self._expire()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:  # EMFILE/ENFILE: the listener stays readable, so never just retry
            self._make_room(f"cannot accept a client ({e.strerror})", pause=True)
            return
        if peer_uid(sock) != os.getuid():
            with contextlib.suppress(OSError):
                sock.sendall(_error(None, INVALID_REQUEST, "permission denied: only the daemon's "
                                    "own user may use this socket"))
            sock.close()
            return
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, _Client(sock))
        if len(self._idle_clients()) > max_clients():  # leave descriptors for imports and the index
            self._make_room("too many clients", pause=False)

    def _idle_clients(self) -> list[_Client]:
        """Connected clients waiting for a request (those being answered are not in the selector)."""
        return [k.data for k in self._selector.get_map().values() if isinstance(k.data, _Client)]

    def _make_room(self, why: str, pause: bool) -> None:
        """Close the longest-idle client: a new client beats a forgotten one. With none to close,
        stop accepting for a second rather than spin on a listener that stays readable."""
        idle = self._idle_clients()
        if idle:
            self._close(min(idle, key=lambda c: c.last_active))
        elif pause:
            self._selector.unregister(self._listener)
            self._resume_accept = time.monotonic() + 1.0
        now = time.monotonic()
        if now - self._last_warning.get(pause, -math.inf) > 10:   # a line per 10 s, however many clients
            self._last_warning[pause] = now
            log.warning("status socket: %s; %s", why,
                        "closed the longest-idle client" if idle else "paused accepting for 1 s")

    def _maybe_resume_accept(self) -> None:
        if self._resume_accept is not None and time.monotonic() >= self._resume_accept:
            self._resume_accept = None
            self._selector.register(self._listener, selectors.EVENT_READ, "listen")

    def _select_timeout(self) -> float:
        if self._resume_accept is None:
            return 1.0
        return max(0.0, min(1.0, self._resume_accept - time.monotonic()))

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(client)
            return
        client.buffer += data
        client.last_active = time.monotonic()
        if b"\n" in client.buffer:
            self._dispatch(client)
        elif len(client.buffer) > MAX_REQUEST_BYTES:
            self._selector.unregister(client.sock)
            self._pool.submit(self._answer_and_close, client,
                              _error(None, INVALID_REQUEST, f"request larger than {MAX_REQUEST_BYTES} bytes"))

    def _dispatch(self, client: _Client) -> None:
        line, _, rest = bytes(client.buffer).partition(b"\n")
        client.buffer = bytearray(rest)
        if len(line) > MAX_REQUEST_BYTES:
            self._selector.unregister(client.sock)
            self._pool.submit(self._answer_and_close, client,
                              _error(None, INVALID_REQUEST, f"request larger than {MAX_REQUEST_BYTES} bytes"))
            return
        self._selector.unregister(client.sock)   # one request at a time per client, in order
        self._pool.submit(self._serve, client, line)

    def _expire(self) -> None:
        deadline = time.monotonic() - self.idle_timeout
        for key in list(self._selector.get_map().values()):
            if isinstance(key.data, _Client) and key.data.last_active < deadline:
                self._close(key.data)

    def _close(self, client: _Client) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(client.sock)
        client.sock.close()

    # -- the pool -------------------------------------------------------------------------------
    def _serve(self, client: _Client, line: bytes) -> None:
        reply = self.handle(line)
        try:
            client.sock.setblocking(True)
            client.sock.settimeout(5.0)
            client.sock.sendall(reply)
            client.sock.setblocking(False)
        except OSError:
            client.sock.close()
            return
        self._returning.put(client)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _answer_and_close(self, client: _Client, reply: bytes) -> None:
        with contextlib.suppress(OSError):
            client.sock.setblocking(True)
            client.sock.settimeout(5.0)
            client.sock.sendall(reply)
        client.sock.close()

    def handle(self, line: bytes) -> bytes:
        """One request line in, one response line out (never raises)."""
        request_id = None
        try:
            text = line.strip()
            request = {"jsonrpc": "2.0", "id": None, "method": "status"} if not text else json.loads(text)
            if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
                raise RpcError(INVALID_REQUEST, 'not a JSON-RPC 2.0 request (send {"jsonrpc": "2.0", '
                               '"id": 1, "method": "status"})')
            request_id = request.get("id")
            method = self.methods.get(request.get("method"))
            if method is None:
                raise RpcError(NO_METHOD, f"no method {request.get('method')!r}; methods: "
                               f"{', '.join(sorted(self.methods))}")
            params = request.get("params") or {}
            if not isinstance(params, dict):
                raise RpcError(INVALID_PARAMS, "params must be an object")
            result = method(params)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return _error(None, PARSE_ERROR, f"not valid JSON: {e}")
        except RpcError as e:
            return _error(request_id, e.code, str(e))
        except ModelshelfError as e:
            return _error(request_id, APP_ERROR, str(e))
        except Exception as e:
            log.exception("status socket method failed")
            return _error(request_id, INTERNAL, f"internal error: {type(e).__name__}: {e}")
        # ASCII-escaped: file names that are not valid UTF-8 still make valid JSON.
        return (json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}, default=str) + "\n").encode()


def max_clients() -> int:
    """Half the descriptor limit (read each time: it can be changed from outside with prlimit)."""
    return max(8, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2)


def _error(request_id: Any, code: int, message: str) -> bytes:
    return (json.dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})
            + "\n").encode()


def call(path: Path, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
    """A client: one request, one answer. Raises ConnectionError if no daemon listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(os.fspath(path))
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
        sock.sendall(json.dumps(request).encode() + b"\n")
        buffer = b""
        while not buffer.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the daemon closed the connection")
            buffer += chunk
    reply = json.loads(buffer)
    if "error" in reply:
        raise RpcError(reply["error"]["code"], reply["error"]["message"])
    return reply["result"]
