#!/usr/bin/env python3
"""Soak: --total-gb of big safetensors files through the real daemon, status socket polled throughout.

Files arrive the way a user drops them: most are written in a staging folder on the inbox's
filesystem and renamed in together (a batch of finished downloads), --slow of them are written in
place, slowly, while the daemon imports the batch. Meanwhile the daemon's RSS is sampled (psutil)
and the status socket is called continuously: any call that fails or takes more than 5 s ends the
run. At the end every file must be imported exactly once, with the SHA-256 this script computed
while writing it (never re-read). The baseline, measured in the same run on a freshly written file
of the same size (before and after the import), is one sequential read + SHA-256, the slower of
the two hashes the daemon computes in one pass.

  python3 benchmarks/soak.py [--total-gb 20] [--files 10] [--slow 2] [--dir /var/tmp/msbench-soak]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

from modelshelf.service.rpc import call  # noqa: E402

GiB = 1 << 30
BLOCK = 64 << 20           # one random block, repeated: generating is as fast as writing
PIECE = 8 << 20            # write (and pacing) granularity
CALL_LIMIT = 5.0           # a status call slower than this fails the run
# Flux-like tensor names, so the daemon classifies the files as a real model would be.
SMALL_TENSORS = ("img_in.weight", "time_in.in_layer.weight", "single_blocks.0.linear1.weight")


class SoakFailure(Exception):
    pass


# -- model files --------------------------------------------------------------------------------
def header(data_size: int, salt: str) -> bytes:
    """The safetensors JSON header: three tiny tensors, then one tensor per 64 MiB of data."""
    tensors: dict[str, Any] = {"__metadata__": {"soak_salt": salt}}
    offset = 0
    for name in SMALL_TENSORS:
        tensors[name] = {"dtype": "F16", "shape": [4], "data_offsets": [offset, offset + 8]}
        offset += 8
    for i, start in enumerate(range(offset, data_size, BLOCK)):
        end = min(start + BLOCK, data_size)
        tensors[f"double_blocks.{i}.img_attn.qkv.weight"] = {"dtype": "F16", "shape": [(end - start) // 2],
                                                             "data_offsets": [start, end]}
    return json.dumps(tensors, separators=(",", ":")).encode()


def layout(size: int, salt: str) -> tuple[bytes, int]:
    """(padded header, data size) for a file of about size bytes; 8-byte aligned like real files."""
    data_size = (size - 8 - len(header(size, salt)) - 16) // 8 * 8
    head = header(data_size, salt)
    return head + b" " * (-len(head) % 8), data_size


@dataclass
class Dropped:
    path: Path
    size: int
    sha256: str
    how: str                   # "staged" (renamed in) or "in place"
    dropped_at: float = 0.0    # time.time() of the rename or of the close


class Generator:
    """Writes distinct model files fast: a 64 MiB random block, each copy stamped with (run, file, block)."""

    def __init__(self) -> None:
        self.block = memoryview(os.urandom(BLOCK))
        self.run = int.from_bytes(os.urandom(8), "little")

    def write(self, path: Path, size: int, index: int, pace: Callable[[int], None]) -> Dropped:
        head, data_size = layout(size, f"{self.run:x}-{index}")
        sha = hashlib.sha256()
        with open(path, "wb") as f:
            self._put(f, sha, len(head).to_bytes(8, "little") + head)
            written = 0
            for k, offset in enumerate(range(0, data_size, BLOCK)):
                n = min(BLOCK, data_size - offset)
                stamp = struct.pack("<QII", self.run, index, k)[:n]   # every block of every file differs
                self._put(f, sha, stamp)
                for start in range(len(stamp), n, PIECE):
                    written += self._put(f, sha, self.block[start:min(n, start + PIECE)])
                    pace(written)
        return Dropped(path, 8 + len(head) + data_size, sha.hexdigest(), "staged")

    @staticmethod
    def _put(f: BinaryIO, sha: Any, data: bytes | memoryview) -> int:
        f.write(data)
        sha.update(data)
        return len(data)


# -- the daemon ---------------------------------------------------------------------------------
def start_daemon(work: Path, sock: Path, quiet: float) -> subprocess.Popen:
    """Like inbox_latency.py: its own config, library and inbox on one filesystem; hub offline."""
    config = work / "config.toml"
    def q(path: Path) -> str:          # a TOML string (json's escaping is valid TOML)
        return json.dumps(str(path))
    config.write_text(f'[paths]\nlibrary = {q(work / "library")}\ninboxes = [{q(work / "inbox")}]\n'
                      f'state_dir = {q(work / "state")}\n[inbox]\nquiet_seconds = {quiet}\n'
                      f'[service]\nsocket = {q(sock)}\n[hub]\noffline = true\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT / "daemon"), "HF_HUB_OFFLINE": "1"}
    with open(work / "daemon.log", "wb") as log:  # the daemon keeps its own descriptor
        daemon = subprocess.Popen([sys.executable, "-m", "modelshelf", "--config", str(config), "daemon"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (sock.exists() and _answers_idle(sock)):
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise SoakFailure(f"the daemon did not become ready (exit code {daemon.poll()})")
        time.sleep(0.05)
    return daemon


def _answers_idle(sock: Path) -> bool:
    try:
        return call(sock, "status")["state"] == "idle"
    except OSError:                      # bound but not listening yet
        return False


def stop_daemon(daemon: subprocess.Popen) -> int:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(120)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
        return -9


# -- the monitor --------------------------------------------------------------------------------
@dataclass
class Monitor:
    """Calls the status socket continuously and samples the daemon's RSS, on its own thread."""

    sock: Path
    daemon: subprocess.Popen
    interval: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"status": [], "jobs": []})
    rss: list[int] = field(default_factory=list)
    file_rss: dict[str, int] = field(default_factory=dict)     # source -> peak RSS while it imported
    finished: dict[str, dict] = field(default_factory=dict)    # job_id -> its final view
    error: str | None = None

    def __post_init__(self) -> None:
        self.process = psutil.Process(self.daemon.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-monitor")

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def check(self, _: int = 0) -> None:
        """Raise in the caller's thread if the monitor or the daemon failed."""
        if self.error:
            raise SoakFailure(self.error)
        if self.daemon.poll() is not None:
            raise SoakFailure(f"the daemon exited with code {self.daemon.returncode}")

    def _run(self) -> None:
        polls = 0
        try:
            while not self._stop.is_set():
                self.sample(jobs=polls % 10 == 0)
                polls += 1
                self._stop.wait(self.interval)
        except Exception as e:   # reported to the main thread by check()
            self.error = str(e) if isinstance(e, SoakFailure) else f"monitor: {type(e).__name__}: {e}"

    def sample(self, jobs: bool) -> dict:
        status = self.call("status")
        rss = self.process.memory_info().rss
        self.rss.append(rss)
        for job in status["running"]:
            self.file_rss[job["source"]] = max(self.file_rss.get(job["source"], 0), rss)
        if jobs:
            for job in self.call("jobs")["recent"]:
                self.finished.setdefault(job["job_id"], job)
        return status

    def call(self, method: str) -> Any:
        n = sum(map(len, self.latencies.values())) + 1
        started = time.perf_counter()
        try:
            result = call(self.sock, method, timeout=CALL_LIMIT)
        except Exception as e:
            raise SoakFailure(f"status socket call #{n} ({method}) failed after "
                              f"{time.perf_counter() - started:.2f} s: {type(e).__name__}: {e}") from e
        elapsed = time.perf_counter() - started
        if elapsed > CALL_LIMIT:
            raise SoakFailure(f"status socket call #{n} ({method}) took {elapsed:.2f} s (limit {CALL_LIMIT} s)")
        self.latencies.setdefault(method, []).append(elapsed)
        return result


# -- the run ------------------------------------------------------------------------------------
def paced(monitor: Monitor, mb_s: float) -> Callable[[int], None]:
    """A pace callback that keeps a writer at mb_s (a slow download) and checks the monitor."""
    started = time.monotonic()

    def pace(written: int) -> None:
        monitor.check()
        ahead = started + written / (mb_s * 1e6) - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    return pace


def baseline(gen: Generator, work: Path, size: int, index: int, monitor: Monitor) -> float:
    """Read + SHA-256 of a freshly written file (page cache as warm as the daemon finds it), MB/s."""
    written = gen.write(work / "baseline.safetensors", size, index, monitor.check)
    sha, buf = hashlib.sha256(), bytearray(PIECE)
    view = memoryview(buf)
    started = time.perf_counter()
    with open(written.path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            sha.update(view[:n])
    seconds = time.perf_counter() - started
    written.path.unlink()
    if sha.hexdigest() != written.sha256:
        raise SoakFailure("the generator's SHA-256 does not match its own file")
    return written.size / seconds / 1e6


def drop_files(gen: Generator, work: Path, sizes: list[int], slow: int, slow_mb_s: float,
               monitor: Monitor) -> list[Dropped]:
    """All but the last `slow` files staged then renamed in at once; those written in place, paced."""
    staging, inbox = work / "staging", work / "inbox"
    staging.mkdir()
    batch = [gen.write(staging / f"soak_model_{i:03d}.safetensors", size, i, monitor.check)
             for i, size in enumerate(sizes[:len(sizes) - slow])]
    for d in batch:                                # same filesystem: each rename is atomic
        d.path = d.path.rename(inbox / d.path.name)
        d.dropped_at = time.time()
    staging.rmdir()
    for i in range(len(sizes) - slow, len(sizes)):
        d = gen.write(inbox / f"soak_model_{i:03d}.safetensors", sizes[i], i, paced(monitor, slow_mb_s))
        d.how, d.dropped_at = "in place", time.time()
        batch.append(d)
    return batch


def wait_imported(monitor: Monitor, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        monitor.check()
        counts = monitor.sample(jobs=True)["counts"]
        if set(counts) - {"imported"}:
            raise SoakFailure(f"jobs that did not import: {counts}")
        if counts.get("imported", 0) >= count:
            return
        if time.monotonic() > deadline:
            raise SoakFailure(f"timed out after {timeout:.0f} s: {counts}")
        time.sleep(0.2)


def verify(monitor: Monitor, dropped: list[Dropped], inbox: Path) -> tuple[list[dict], set[str]]:
    """Every file imported exactly once, with the SHA-256 it was written with; (its jobs, model kinds)."""
    status = monitor.call("status")
    if status["counts"] != {"imported": len(dropped)} or status["models"] != len(dropped):
        raise SoakFailure(f"status counts {status['counts']}, {status['models']} models; "
                          f"expected {len(dropped)} imports")
    models = monitor.call("models")
    recorded = sorted((m["sha256"], m["size_bytes"], m["format"]) for m in models)
    expected = sorted((d.sha256, d.size, "safetensors") for d in dropped)
    if recorded != expected:
        raise SoakFailure(f"library differs from what was written:\n  library {recorded}\n  written {expected}")
    jobs = {str(d.path): [j for j in monitor.finished.values() if j["source"] == str(d.path)] for d in dropped}
    once = {src: [j["state"] for j in js] for src, js in jobs.items() if [j["state"] for j in js] != ["imported"]}
    if once:
        raise SoakFailure(f"files not imported exactly once: {once}")
    if left := sorted(p.name for p in inbox.iterdir()):
        raise SoakFailure(f"left in the inbox: {left}")
    return [js[0] for js in jobs.values()], {f"{m['model_type']}/{m['family']}" for m in models}


def busy_seconds(jobs: list[dict]) -> float:
    """The union of the jobs' [started, finished] intervals: the time the daemon was importing."""
    total, end = 0.0, 0.0
    for start, finish in sorted((j["started_at"], j["finished_at"]) for j in jobs):
        total += max(0.0, finish - max(start, end))
        end = max(end, finish)
    return total


# -- set-up, report -----------------------------------------------------------------------------
def check_disk(folder: Path, needed: int) -> None:
    target = str(folder.resolve())
    mounts = [p for p in psutil.disk_partitions(all=True)
              if target == p.mountpoint or target.startswith(p.mountpoint.rstrip("/") + "/")]
    mount = max(mounts, key=lambda p: len(p.mountpoint), default=None)
    if mount is not None and mount.fstype in ("tmpfs", "ramfs"):
        raise SoakFailure(f"{folder} is on {mount.fstype}: choose a real disk with --dir")
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise SoakFailure(f"{folder} has {free / GiB:.1f} GiB free; the soak needs {needed / GiB:.1f} GiB")


def quantile_ms(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


def report(args: argparse.Namespace, dropped: list[Dropped], jobs: list[dict], monitor: Monitor,
           bases: list[float], times: dict[str, float]) -> None:
    total = sum(d.size for d in dropped)
    busy = busy_seconds(jobs)
    throughput, base = total / busy / 1e6, statistics.mean(bases)
    print(f"\nsoak: {len(dropped)} files, {total / 1e9:.2f} GB ({total / GiB:.2f} GiB); {len(dropped) - args.slow} "
          f"staged and renamed in at once, {args.slow} written in place at {args.slow_mb_s:g} MB/s; "
          f"quiet period {args.quiet:g} s")
    print(f"  {'file':28} {'GiB':>5} {'how':8} {'wait s':>7} {'import s':>8} {'MB/s':>6} {'peak RSS MB':>11}")
    by_source = {j["source"]: j for j in jobs}
    for d in dropped:
        j = by_source[str(d.path)]
        secs = j["finished_at"] - j["started_at"]
        print(f"  {d.path.name:28} {d.size / GiB:5.2f} {d.how:8} {j['started_at'] - d.dropped_at:7.1f} "
              f"{secs:8.1f} {d.size / secs / 1e6:6.0f} {monitor.file_rss.get(str(d.path), 0) / 1e6:11.0f}")
    print(f"wall time: {times['total']:.1f} s in all; writing the files {times['write']:.1f} s; "
          f"first drop → last import {times['import']:.1f} s")
    print(f"import throughput: {throughput:.0f} MB/s over {busy:.1f} s of daemon busy time "
          f"(inbox move on one filesystem: hardlink + BLAKE3 and SHA-256 in one read)")
    print(f"baseline, same run: read + SHA-256 of a freshly written {dropped[0].size / GiB:.2f} GiB file: "
          f"{bases[0]:.0f} MB/s before, {bases[1]:.0f} MB/s after → {base:.0f} MB/s")
    print(f"import / baseline = {throughput / base:.2f}")
    rss = monitor.rss
    print(f"daemon RSS: first sample {rss[0] / 1e6:.0f} MB, peak {max(rss) / 1e6:.0f} MB, "
          f"last {rss[-1] / 1e6:.0f} MB ({len(rss)} samples)")
    lat = monitor.latencies
    status, every = lat["status"], [x for v in lat.values() for x in v]
    print(f"status socket: {len(every)} calls answered ({', '.join(f'{len(v)} {k}' for k, v in lat.items())}), "
          f"0 failed, none over {CALL_LIMIT:g} s; status p50 {quantile_ms(status, 50):.2f} ms, "
          f"p99 {quantile_ms(status, 99):.2f} ms, max {max(status) * 1000:.1f} ms; "
          f"slowest call of any method {max(every) * 1000:.1f} ms")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--total-gb", type=float, default=20, help="total size in GiB (default 20)")
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--slow", type=int, default=2, help="how many of the files are written in place, paced")
    p.add_argument("--slow-mb-s", type=float, default=150, help="pace of the in-place writers")
    p.add_argument("--quiet", type=float, default=1.0, help="the daemon's inbox quiet period, seconds")
    p.add_argument("--poll-interval", type=float, default=0.01, help="pause between status calls, seconds")
    p.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench-soak"), help="work folder (not tmpfs)")
    args = p.parse_args()
    if not 0 <= args.slow <= args.files:
        p.error("--slow must be between 0 and --files")
    return args


def main() -> None:
    args = parse_args()
    size = int(args.total_gb * GiB / args.files)
    made_dir = not args.dir.exists()
    args.dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="soak-", dir=args.dir))
    short = Path(tempfile.mkdtemp(prefix="ms-soak-", dir="/tmp"))  # unix socket paths are short
    daemon = monitor = None
    try:
        check_disk(work, size * (args.files + 1) + GiB)
        (work / "inbox").mkdir()
        daemon = start_daemon(work, short / "status.sock", args.quiet)
        monitor = Monitor(short / "status.sock", daemon, args.poll_interval).start()
        run(args, work, size, monitor)
    except SoakFailure as e:
        log = work / "daemon.log"
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SystemExit(f"SOAK FAILED: {e}\n--- daemon log (tail) ---\n{tail}") from None
    finally:
        if monitor is not None:
            monitor.stop()
        code = stop_daemon(daemon) if daemon is not None else 0
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(short, ignore_errors=True)
        if made_dir:
            with contextlib.suppress(OSError):
                args.dir.rmdir()
    if code != 0:
        raise SystemExit(f"SOAK FAILED: the daemon exited with code {code} on SIGTERM")


def run(args: argparse.Namespace, work: Path, size: int, monitor: Monitor) -> None:
    gen = Generator()
    started = time.monotonic()
    bases = [baseline(gen, work, size, args.files, monitor)]
    writing = time.monotonic()
    dropped = drop_files(gen, work, [size] * args.files, args.slow, args.slow_mb_s, monitor)
    written = time.monotonic()
    wait_imported(monitor, len(dropped), 300 + size * args.files / 30e6)
    jobs, kinds = verify(monitor, dropped, work / "inbox")
    bases.append(baseline(gen, work, size, args.files + 1, monitor))
    monitor.stop()
    monitor.check()
    first_drop = min(d.dropped_at for d in dropped)
    times = {"total": time.monotonic() - started, "write": written - writing,
             "import": max(j["finished_at"] for j in jobs) - first_drop}
    report(args, dropped, jobs, monitor, bases, times)
    print(f"verified: {len(dropped)} models ({', '.join(sorted(kinds))}), each file imported exactly once "
          "with the SHA-256 it was written with; inbox empty")


if __name__ == "__main__":
    main()
