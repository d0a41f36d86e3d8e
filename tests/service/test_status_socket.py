from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from modelshelf.service.rpc import RpcError, RpcServer, call

from ..helpers import wait_for
from ..models import write_big_safetensors
from .daemon_proc import DaemonProcess


@pytest.fixture
def server():
    folder = Path(tempfile.mkdtemp(prefix="ms-rpc-", dir="/tmp"))
    srv = RpcServer(folder / "sock" / "status.sock",
                    {"status": lambda p: {"state": "idle"}, "echo": lambda p: p,
                     "boom": lambda p: 1 / 0}, idle_timeout=1.0)
    srv.start()
    yield srv
    srv.stop()
    shutil.rmtree(folder, ignore_errors=True)


def raw(path: Path, payload: bytes, timeout: float = 5) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        try:
            s.sendall(payload)
        except BrokenPipeError:
            pass  # the server answered and closed before taking all of it: the answer is still there
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


def test_socket_is_private(server: RpcServer) -> None:
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(server.path.parent).st_mode) == 0o700


def test_empty_line_is_status_and_methods_answer(server: RpcServer) -> None:
    assert raw(server.path, b"\n")["result"] == {"state": "idle"}
    assert call(server.path, "echo", {"a": "ü"}) == {"a": "ü"}


@pytest.mark.parametrize("payload,code,text", [
    (b"garbage\n", -32700, "not valid JSON"),
    (b"[1, 2]\n", -32600, "not a JSON-RPC 2.0 request"),
    (b'{"jsonrpc": "2.0", "id": 3, "method": "nope"}\n', -32601, "no method 'nope'"),
    (b'{"jsonrpc": "2.0", "id": 4, "method": "echo", "params": [1]}\n', -32602, "params must be an object"),
    (b'{"jsonrpc": "2.0", "id": 5, "method": "boom"}\n', -32603, "internal error: ZeroDivisionError"),
    (b"\xff\xfe\n", -32700, "not valid JSON"),
])
def test_malformed_requests_get_jsonrpc_errors(server: RpcServer, payload: bytes, code: int, text: str) -> None:
    reply = raw(server.path, payload)
    assert reply["error"]["code"] == code and text in reply["error"]["message"]
    assert raw(server.path, b"\n")["result"] == {"state": "idle"}   # and the server goes on


def test_oversized_request_is_refused(server: RpcServer) -> None:
    reply = raw(server.path, b"x" * (1 << 20))                        # 1 MB, no newline
    assert reply["error"]["code"] == -32600 and "larger than 65536 bytes" in reply["error"]["message"]


def test_half_open_clients_do_not_block_others_and_time_out(server: RpcServer) -> None:
    stuck = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(20)]
    for s in stuck:
        s.connect(str(server.path))
        s.sendall(b'{"jsonrpc": "2.0", "id": 1, "meth')               # never finished
    assert call(server.path, "status") == {"state": "idle"}
    for s in stuck:
        s.settimeout(10)
        assert s.recv(10) == b""                                      # closed after the idle timeout
        s.close()


def test_other_users_are_refused(server: RpcServer) -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to connect as another user")
    os.chmod(server.path.parent.parent, 0o755)                        # as if the folders were shared
    os.chmod(server.path.parent, 0o755)
    os.chmod(server.path, 0o666)
    code = ("import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
            "print(s.recv(4096).decode())")  # refused at accept: nothing to send first
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                          "-c", code, str(server.path)], capture_output=True, text=True, timeout=20)
    assert "permission denied: only the daemon's own user" in out.stdout, out.stderr


def test_client_reports_errors(server: RpcServer) -> None:
    with pytest.raises(RpcError, match="no method 'nope'"):
        call(server.path, "nope")


def test_fifty_clients_during_an_import(tmp_path: Path) -> None:
    with DaemonProcess(tmp_path) as d:
        d.start()
        big = write_big_safetensors(tmp_path / "big.safetensors", 400)
        shutil.move(big, d.inbox / "big.safetensors")
        wait_for(lambda: d.call("jobs")["running"], 30, "the import to start")
        errors: list[BaseException] = []
        answers: list[str] = []

        def client() -> None:
            try:
                for _ in range(5):
                    answers.append(call(d.socket, "status")["state"])
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=client) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(answers) == 250
        assert "importing" in answers
        assert [j["state"] for j in d.wait_jobs(1, timeout=60)] == ["imported"]
