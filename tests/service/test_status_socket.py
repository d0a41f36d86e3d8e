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
import time
from pathlib import Path

import psutil
import pytest

from modelshelf.service.rpc import MAX_REQUEST_BYTES, RpcError, RpcServer, call

from .. import tally
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


@pytest.mark.bad_input
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


@pytest.mark.bad_input
def test_oversized_request_is_refused(server: RpcServer) -> None:
    reply = raw(server.path, b"x" * (1 << 20))                        # 1 MB, no newline
    assert reply["error"]["code"] == -32600 and "larger than 65536 bytes" in reply["error"]["message"]


@pytest.mark.bad_input(20)
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


@pytest.mark.bad_input
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


# Garbage a client may send, and the error each gets: the oversized one (no newline) is answered and closed.
GARBAGE = [(b"garbage\n", -32700), (b"\xff\xfe\x00\x01\n", -32700), (b"[1, 2]\n", -32600),
           (b"x" * (MAX_REQUEST_BYTES + 4096), -32600)]
HALF_REQUEST = b'{"jsonrpc": "2.0", "id": 1, "meth'


def connect_all(path: Path, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(path))
        socks.append(s)
    return socks


def read_reply(s: socket.socket) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        assert chunk, f"closed without an answer (got {data!r})"
        data += chunk
    return json.loads(data)


def send_garbage(s: socket.socket, payload: bytes) -> None:
    try:
        s.sendall(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # oversized: the daemon answered and closed before taking all of it


def send_status(s: socket.socket, request_id: int) -> None:
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "status"}).encode() + b"\n")


def timed_status(d: DaemonProcess) -> float:
    started = time.perf_counter()
    assert d.call("status")["state"] == "idle"
    return time.perf_counter() - started


def check_answers(garbage: list[socket.socket], valid: list[socket.socket]) -> None:
    for i, s in enumerate(garbage):
        assert read_reply(s)["error"]["code"] == GARBAGE[i % len(GARBAGE)][1]
    for i, s in enumerate(valid):
        reply = read_reply(s)
        assert reply["id"] == i and reply["result"]["state"] == "idle"
        send_status(s, 1000 + i)                                   # the same connection serves again
    for i, s in enumerate(valid):
        assert read_reply(s)["id"] == 1000 + i


@pytest.mark.bad_input(150)
def test_two_hundred_connections_at_once(tmp_path: Path) -> None:
    """100 silent or half-sent, 50 garbage and 50 valid clients at once: a normal client is still
    answered quickly, and once they all hang up the daemon holds no extra descriptor or thread."""
    with DaemonProcess(tmp_path) as d:
        d.start()
        daemon = psutil.Process(d.proc.pid)
        for _ in range(5):
            d.call("status")                     # warm up: the pool's first thread, lazy imports
        fds, threads = daemon.num_fds(), daemon.num_threads()
        idle, garbage, valid = connect_all(d.socket, 100), connect_all(d.socket, 50), connect_all(d.socket, 50)
        held = 200 - sum(not GARBAGE[i % len(GARBAGE)][0].endswith(b"\n") for i in range(50))  # oversized: closed
        try:
            for s in idle[50:]:
                s.sendall(HALF_REQUEST)                                # never finished
            for i, s in enumerate(garbage):
                send_garbage(s, GARBAGE[i % len(GARBAGE)][0])
            for i, s in enumerate(valid):
                send_status(s, i)
            slowest = max(timed_status(d) for _ in range(20))          # while all 200 are connected
            check_answers(garbage, valid)
            # All accepted, none waiting in the backlog (- 1: the warm-up's last connection may still
            # have been open in the baseline).
            wait_for(lambda: daemon.num_fds() >= fds + held - 1, 10, f"the daemon to hold {held} connections")
            for s in idle:                                             # neither answered nor dropped
                s.setblocking(False)
                with pytest.raises(BlockingIOError):
                    s.recv(1)
        finally:
            for s in idle + garbage + valid:
                s.close()
        wait_for(lambda: daemon.num_fds() <= fds + 2, 10, f"the daemon's descriptors back near {fds}")
        assert daemon.num_threads() <= threads + 3, "threads beyond the pool's 4 workers"  # none per client
        assert timed_status(d) < 1.0
        assert d.stop() == 0
    assert slowest < 2.0
    tally.report(f"200 connections at once: slowest status call meanwhile {slowest * 1000:.0f} ms")


@pytest.mark.fault(files=0)
def test_clients_cannot_use_up_the_descriptors(tmp_path: Path) -> None:
    """More clients than half the descriptor limit: the longest-idle are closed, so a new client is
    still answered and the daemon keeps descriptors for its own work (no spinning on EMFILE)."""
    with DaemonProcess(tmp_path) as d:
        d.start()
        daemon = psutil.Process(d.proc.pid)
        fds = daemon.num_fds()
        limit = fds + 60
        daemon.rlimit(psutil.RLIMIT_NOFILE, (limit, daemon.rlimit(psutil.RLIMIT_NOFILE)[1]))
        clients = connect_all(d.socket, 100)                         # more than the daemon can hold
        try:
            assert timed_status(d) < 2.0
            assert clients[0].recv(1) == b""                          # the longest-idle: closed
            clients[-1].setblocking(False)
            with pytest.raises(BlockingIOError):
                clients[-1].recv(1)                                   # the newest: still served
            assert daemon.num_fds() <= fds + limit // 2 + 2
        finally:
            for s in clients:
                s.close()
        assert d.call("status")["state"] == "idle"
        assert d.logs().count("status socket: too many clients") == 1   # one line, not one per client
        assert d.stop() == 0


@pytest.mark.fault(files=0)
def test_out_of_descriptors_it_pauses_accepting_instead_of_spinning(tmp_path: Path) -> None:
    """EMFILE with no idle client to close: the listener stays readable, so the daemon must stop
    watching it for a while (not spin, not log per attempt), and answer once descriptors return."""
    with DaemonProcess(tmp_path) as d:
        d.start()
        daemon = psutil.Process(d.proc.pid)
        soft, hard = daemon.rlimit(psutil.RLIMIT_NOFILE)
        daemon.rlimit(psutil.RLIMIT_NOFILE, (daemon.num_fds(), hard))   # not one descriptor to spare
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(d.socket))                                # waits in the listen backlog
        send_status(client, 1)
        wait_for(lambda: "paused accepting for 1 s" in d.logs(), 10, "the daemon to pause accepting")
        cpu = sum(daemon.cpu_times()[:2])
        client.settimeout(3)
        with pytest.raises(TimeoutError):
            client.recv(1)                                           # no reply while out of descriptors
        assert sum(daemon.cpu_times()[:2]) - cpu < 0.5               # and no spinning meanwhile
        daemon.rlimit(psutil.RLIMIT_NOFILE, (soft, hard))
        client.settimeout(10)
        assert read_reply(client)["id"] == 1                         # accepted again within a second
        client.close()
        assert d.logs().count("status socket: cannot accept a client") == 1
        assert d.stop() == 0
