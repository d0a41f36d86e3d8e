"""The plumbing the tests' stand-in services (fake Hub, CivitAI, Ollama, InvokeAI) share: an HTTP
server on 127.0.0.1 serving from a thread, handing every request to one callback, and the replies
they write. Each fake keeps only its own endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

Handle = Callable[[BaseHTTPRequestHandler, str], None]   # (request, method such as "GET")


class _Server(ThreadingHTTPServer):
    daemon_threads = True                 # a request a test abandoned never holds up stop()

    def __init__(self, port: int, handle: Handle) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.handle = handle


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass                              # keep test output clean

    def _dispatch(self) -> None:
        self.server.handle(self, self.command)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch


class LocalServer:
    """Serves `handle(request, method)` on 127.0.0.1 (port 0 picks a free one) until stop()."""

    def __init__(self, handle: Handle, name: str, port: int = 0) -> None:
        self._server = _Server(port, handle)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Served:
    """What a fake served by a LocalServer in `self.server` offers: stop() and `with`."""

    server: LocalServer

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_body(h: BaseHTTPRequestHandler) -> bytes:
    """The request body, as long as its Content-Length says."""
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""


def send_bytes(h: BaseHTTPRequestHandler, status: int, data: bytes,
               content_type: str = "application/octet-stream", headers: dict[str, str] | None = None) -> None:
    """Answer with `data` (headers only for HEAD); a client that hung up is not an error here."""
    try:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass                              # the client gave up (timeout and size-cap tests)


def send_json(h: BaseHTTPRequestHandler, status: int, body: object, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
    """Answer with `body` as JSON; None sends an empty body (a 204, or a HEAD answer)."""
    data = b"" if body is None else json.dumps(body).encode()
    send_bytes(h, status, data, content_type, headers)
