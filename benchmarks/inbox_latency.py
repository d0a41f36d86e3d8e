#!/usr/bin/env python3
"""Inbox latency and status-socket responsiveness of the real daemon.

1. Time from a dropped file's close() to the start of its import, for --files files, against
   the configured quiet period (target: <= quiet_seconds + 0.5 s).
2. Status-socket round trips (p50/p99) while a --size-gib import copies (target p99 <= 20 ms).

  python3 benchmarks/inbox_latency.py [--quiet 1.0] [--files 10] [--size-gib 2] [--dir /var/tmp/msbench-latency]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from import_throughput import write_random_safetensors  # noqa: E402

from modelshelf.service.rpc import call  # noqa: E402


def rpc(sock_path: Path, method: str, params: dict | None = None) -> dict:
    return call(sock_path, method, params)


def wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)
    return value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quiet", type=float, default=1.0)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--size-gib", type=float, default=2)
    p.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench-latency"))
    args = p.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    short = Path(tempfile.mkdtemp(prefix="ms-lat-", dir="/tmp"))
    sock_path, inbox = short / "status.sock", args.dir / "inbox"
    config = args.dir / "config.toml"
    config.write_text(f'[paths]\nlibrary = "{args.dir / "library"}"\ninboxes = ["{inbox}"]\n'
                      f'state_dir = "{args.dir / "state"}"\n[inbox]\nquiet_seconds = {args.quiet}\n'
                      f'[service]\nsocket = "{sock_path}"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT / "daemon")}
    with open(args.dir / "daemon.log", "wb") as log:  # the daemon keeps its own descriptor
        daemon = subprocess.Popen([sys.executable, "-m", "modelshelf", "--config", str(config), "daemon"],
                                  env=env, stderr=log)
    try:
        wait(lambda: sock_path.exists(), 30, "the daemon")
        wait(lambda: rpc(sock_path, "status")["state"] == "idle", 30, "the daemon to be ready")
        latencies = measure_latency(sock_path, inbox, args.files)
        rtts = measure_rtt(sock_path, args.dir, int(args.size_gib * (1 << 30)))
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        shutil.rmtree(short, ignore_errors=True)
    med, worst = statistics.median(latencies), max(latencies)
    print(f"close → import start over {len(latencies)} files: median {med:.3f} s, max {worst:.3f} s "
          f"(quiet period {args.quiet} s; target <= {args.quiet + 0.5:.1f} s) "
          f"→ max - quiet = {worst - args.quiet:.3f} s")
    q = statistics.quantiles(rtts, n=100)
    print(f"status round trip during a {args.size_gib:g} GiB import, {len(rtts)} calls: "
          f"p50 {q[49] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms, max {max(rtts) * 1000:.2f} ms (target p99 <= 20 ms)")


def measure_latency(sock_path: Path, inbox: Path, files: int) -> list[float]:
    from safetensors.numpy import save_file  # noqa: F401  (only to fail early without test extras)
    latencies = []
    for i in range(files):
        path = inbox / f"latency_{i}.safetensors"
        tmp = inbox.parent / f"latency_{i}.safetensors"
        write_random_safetensors(tmp, 1 << 20)
        data = tmp.read_bytes()
        with open(path, "wb") as f:        # written in place: created, opened, written, closed
            f.write(data)
        closed = time.time()
        job = wait(lambda p=path: started_job(sock_path, p), 60, path.name)
        latencies.append(job["started_at"] - closed)
        wait(lambda p=path: any(j["source"] == str(p) for j in rpc(sock_path, "jobs")["recent"]), 60, "the import")
    return latencies


def started_job(sock_path: Path, path: Path) -> dict | None:
    jobs = rpc(sock_path, "jobs")
    return next((j for j in jobs["recent"] + jobs["running"] if j["source"] == str(path) and j["started_at"]), None)


def measure_rtt(sock_path: Path, work: Path, size: int) -> list[float]:
    big = work / "big_model.safetensors"
    write_random_safetensors(big, size)
    job_id = rpc(sock_path, "import", {"paths": [str(big)], "mode": "copy"})["job_ids"][0]
    wait(lambda: rpc(sock_path, "jobs")["running"], 60, "the big import to start")
    rtts = []
    while True:
        started = time.perf_counter()
        status = rpc(sock_path, "status")
        rtts.append(time.perf_counter() - started)
        if not any(j["job_id"] == job_id for j in status["running"]):
            break
    return rtts


if __name__ == "__main__":
    main()
