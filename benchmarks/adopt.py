#!/usr/bin/env python3
"""Adopting what three ComfyUI installs hold: --gib of model files on one filesystem, half of
it duplicates (every content in two installs), brought into the library in place.

Measured on the adoption (run as its own process, cold files) against targets:
  - model data written: /proc/self/io write_bytes, against the bytes adopted (target: 0; links only;
    what is written is SQLite, metadata.json and folder entries)
  - throughput over the bytes read, against one core of SHA-256 measured in the same run (>= 0.9)
  - bytes read (rchar) against the sum of the distinct files' sizes (1.0: every file read once)
  - page cache held by the adopted files afterwards (fincore, <= 256 MB); the machine-wide peak
    growth of Cached is printed too, but other processes on a shared machine move it
  - peak RSS of the adopting process (<= 100 MB)
  - the space given back, measured on disk, against the duplicates' blocks (1.0)

  python3 benchmarks/adopt.py [--gib 20] [--file-mib 1024] [--dir /var/tmp/msbench-adopt] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mmap
import os
import random
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))

MIB = 1 << 20


def safetensors_header(size: int) -> bytes:
    """A valid safetensors header for one U8 tensor of `size` bytes."""
    header = json.dumps({"lora_unet_x.lora_down.weight": {"dtype": "U8", "shape": [size],
                                                         "data_offsets": [0, size]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header


def write_model(path: Path, size: int, block: mmap.mmap, salt: int) -> None:
    """`size` bytes of tensor data: a shared random block with a per-file salt in every MiB, so
    no two contents are equal; the written pages are dropped (the adoption starts cold)."""
    salt_bytes = salt.to_bytes(8, "little")
    with open(path, "wb") as f:
        f.write(safetensors_header(size))
        done = 0
        while done < size:
            n = min(len(block), size - done)
            view = memoryview(block)[:n]
            for at in range(0, n, MIB):
                block[at:at + 8] = salt_bytes
            f.write(view)
            done += n
            view.release()
        f.flush()
        os.fsync(f.fileno())
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def make_installs(work: Path, gib: float, file_mib: int) -> tuple[list[Path], int, int]:
    """Unique contents of gib/2, each copied into two of three installs. Returns (installs, total
    bytes, the duplicates' blocks in bytes)."""
    installs = [work / "comfyui" / f"v{i}" for i in range(3)]
    for install in installs:
        (install / "models" / "checkpoints").mkdir(parents=True)
    rng = random.Random(1)
    block = mmap.mmap(-1, 64 * MIB)
    block.write(rng.randbytes(64 * MIB))
    unique, total, dup_blocks, n = int(gib * 1024 * MIB / 2), 0, 0, 0
    while unique > 0:
        size = min(file_mib * MIB, unique)
        a, b = rng.sample(installs, 2)
        first = a / "models" / "checkpoints" / f"model{n:03d}.safetensors"
        write_model(first, size, block, n)
        second = b / "models" / "checkpoints" / first.name
        write_model(second, size, block, n)
        total += 2 * os.stat(first).st_size
        dup_blocks += os.stat(second).st_blocks * 512
        unique -= size
        n += 1
    block.close()
    return installs, total, dup_blocks


def sha256_speed(seconds: float = 2.0) -> float:
    """One core of SHA-256 (hashlib, OpenSSL) over memory, bytes/s."""
    data = os.urandom(64 * MIB)
    h, done, started = hashlib.sha256(), 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        h.update(data)
        done += len(data)
    return done / (time.perf_counter() - started)


def disk_speed(path: Path, limit: int = 1 << 30) -> float:
    """O_DIRECT sequential read of one file (nothing enters the page cache), bytes/s."""
    buffer = mmap.mmap(-1, 8 * MIB)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    done, started = 0, time.perf_counter()
    try:
        while done < limit and (n := os.preadv(fd, [buffer], done)):
            done += n
            if n < len(buffer):
                break
    finally:
        os.close(fd)
        buffer.close()
    return done / (time.perf_counter() - started)


def resident_bytes(folder: Path) -> int | None:
    """Bytes of the files under folder held in the page cache (util-linux fincore)."""
    files = [str(p) for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    if not shutil.which("fincore") or not files:
        return None
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", *files], capture_output=True,
                         text=True).stdout
    return sum(int(x) for x in out.split())


def cached_bytes() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("Cached:"))


class CacheWatch:
    """The peak growth of the page cache while the adoption runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.start, self.peak = cached_bytes(), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cache-watch")

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, cached_bytes() - self.start)

    def __enter__(self) -> CacheWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def peak_rss() -> int:
    """VmHWM: this process's own peak (ru_maxrss would include the parent's, from before exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def child(config_path: str) -> None:
    """The adopting process: adopt every configured install, print its own I/O and RSS."""
    from modelshelf.adopt import adopt
    from modelshelf.config import load_config
    from modelshelf.shelf import Shelf

    with open("/proc/self/io") as f:
        before = {k: int(v) for k, v in (line.split(": ") for line in f)}
    started = time.perf_counter()
    with Shelf(load_config(Path(config_path)), writer=True, purpose="benchmark") as shelf:
        report = adopt(shelf, [])
    seconds = time.perf_counter() - started
    with open("/proc/self/io") as f:
        after = {k: int(v) for k, v in (line.split(": ") for line in f)}
    print(json.dumps({"seconds": seconds, "rchar": after["rchar"] - before["rchar"],
                      "read_bytes": after["read_bytes"] - before["read_bytes"],
                      "write_bytes": after["write_bytes"] - before["write_bytes"],
                      "rss_peak": peak_rss(),
                      "freed": report.freed, "added": report.added,
                      "outcomes": sorted({r.outcome.value for r in report.results}),
                      "files": len(report.results)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=20.0, help="total size of the installs (default 20)")
    parser.add_argument("--file-mib", type=int, default=1024, help="size of each model file (default 1024)")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench-adopt"))
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    work = args.dir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        started = time.perf_counter()
        installs, total, dup_blocks = make_installs(work, args.gib, args.file_mib)
        print(f"made {total / 2**30:.1f} GiB over 3 installs ({dup_blocks / 2**30:.1f} GiB duplicates) "
              f"in {time.perf_counter() - started:.0f} s")
        config = work / "config.toml"
        config.write_text(f'[paths]\nlibrary = "{work / "library"}"\ninboxes = ["{work / "inbox"}"]\n'
                          f'state_dir = "{work / "state"}"\n[[apps]]\nroot = "{work / "comfyui"}/*"\n')
        sha = sha256_speed()
        disk = disk_speed(next(installs[0].rglob("*.safetensors")))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "daemon")}
        with CacheWatch() as cache:
            out = subprocess.run([sys.executable, __file__, "--child", str(config)], env=env, check=True,
                                 capture_output=True, text=True).stdout
        stats = json.loads(out.strip().splitlines()[-1])
        resident = resident_bytes(work / "library")
        sha_after = sha256_speed()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    baseline = (sha + sha_after) / 2
    speed = stats["rchar"] / stats["seconds"]
    rows = [
        ("model bytes written (write_bytes / bytes adopted; target 0)", stats["write_bytes"] / total,
         f"{stats['write_bytes'] / MIB:.1f} MiB written for {total / 2**30:.1f} GiB adopted"),
        ("throughput / one core of SHA-256 (target >= 0.9)", speed / baseline,
         f"{speed / 1e6:.0f} MB/s over {stats['rchar'] / 2**30:.1f} GiB read; SHA-256 {baseline / 1e6:.0f} MB/s"),
        ("bytes read / distinct files' bytes (target 1.0)", stats["rchar"] / total,
         f"{stats['files']} files, outcomes {stats['outcomes']}"),
        ("throughput / O_DIRECT read of this disk (for reference)", speed / disk, f"disk {disk / 1e6:.0f} MB/s"),
        ("page cache held by the adopted files MB (target <= 256)", (resident or 0) / 1e6,
         "fincore after the run" if resident is not None else "fincore is not installed"),
        ("page-cache growth, whole machine, MB (shared: noisy)", cache.peak / 1e6, "peak of Cached during the run"),
        ("peak RSS MB (target <= 100)", stats["rss_peak"] / 1e6, "the adopting process"),
        ("space given back / duplicates' blocks (target 1.0)", (stats["freed"] - stats["added"]) / dup_blocks,
         f"{stats['freed'] / 2**30:.2f} GiB freed, {stats['added'] / MIB:.2f} MiB of links"),
    ]
    print(f"adopt: {args.gib:g} GiB, {stats['seconds']:.1f} s")
    for name, ratio, detail in rows:
        print(f"  {name:<62} {ratio:8.3f}   {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
