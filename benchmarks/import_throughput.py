#!/usr/bin/env python3
"""Import throughput against baselines measured in the same run, interleaved, hot and cold.

  modelshelf import (copy mode, fsync)   vs  (a) cp + sync, copy_file_range + fsync,
                                              an O_DIRECT copy loop without hashing
                                         vs  (b) single-thread SHA-256 of the same bytes
                                         vs  (c) the reference loop: 8 KiB read, write,
                                              blake3.update, sha256.update in one thread
  move-mode hashing (hash in place)      vs  (b)

The limit is the slower of the fastest (a) and (b). Each approach runs in its own process, so
its peak RSS is its own; page-cache growth is sampled from /proc/meminfo while it runs.
Cold runs drop the page cache first (root only). Usage:

  python3 benchmarks/import_throughput.py [--size-gib 2] [--rounds 3] [--dir /var/tmp/msbench]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mmap
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

BUF = 8 << 20


# -- the approaches, each run in a child process ----------------------------------------------
def run_import(src: Path, work: Path) -> None:
    from modelshelf.config import Config, ImportConfig, ImportMode, PathsConfig
    from modelshelf.ingest import ImportJob
    from modelshelf.shelf import Shelf
    cfg = Config(PathsConfig(library=work / "library", inboxes=(), state_dir=work / "state"),
                 ImportConfig(reflink=False, reserve_mib=0))
    with Shelf(cfg, writer=True) as shelf:
        shelf.importer().run(ImportJob(src, ImportMode.COPY))


def run_hash_in_place(src: Path, work: Path) -> None:
    from modelshelf.ingest import StreamSettings, hash_file
    hash_file(src, StreamSettings())


def run_sha256(src: Path, work: Path) -> None:
    h, buf = hashlib.sha256(), bytearray(BUF)
    view = memoryview(buf)
    with open(src, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])


def run_cp(src: Path, work: Path) -> None:
    dst = work / "cp.out"
    subprocess.run(["cp", str(src), str(dst)], check=True)
    subprocess.run(["sync", str(dst)], check=True)


def run_copy_file_range(src: Path, work: Path) -> None:
    with open(src, "rb") as fi, open(work / "cfr.out", "wb") as fo:
        while os.copy_file_range(fi.fileno(), fo.fileno(), 1 << 30):
            pass
        os.fsync(fo.fileno())


def run_odirect_copy(src: Path, work: Path) -> None:
    buf = mmap.mmap(-1, BUF)
    fi = os.open(src, os.O_RDONLY | os.O_DIRECT)
    fo = os.open(work / "odirect.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    try:
        while n := os.readv(fi, [buf]):
            os.write(fo, memoryview(buf)[:n])  # 2 GiB file: every chunk is whole blocks
        os.fsync(fo)
    finally:
        os.close(fi), os.close(fo), buf.close()


def run_reference_loop(src: Path, work: Path) -> None:
    import blake3
    b3, sha = blake3.blake3(), hashlib.sha256()
    with open(src, "rb") as fi, open(work / "ref.out", "wb") as fo:
        while chunk := fi.read(8192):
            fo.write(chunk)
            b3.update(chunk)
            sha.update(chunk)
        fo.flush()
        os.fsync(fo.fileno())


APPROACHES = {"import": run_import, "hash_in_place": run_hash_in_place, "sha256": run_sha256,
              "cp+sync": run_cp, "copy_file_range+fsync": run_copy_file_range,
              "odirect_copy": run_odirect_copy, "reference_8k_loop": run_reference_loop}
COPIES = ("cp+sync", "copy_file_range+fsync", "odirect_copy")


def child(name: str, src: Path, work: Path) -> None:
    started = time.perf_counter()
    APPROACHES[name](src, work)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


# -- the driver -----------------------------------------------------------------------------
def cached_kb() -> int:
    with open("/proc/meminfo") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["Cached"].split()[0])


def prepare_cache(src: Path, cold: bool) -> None:
    os.sync()
    if cold:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    else:
        with open(src, "rb", buffering=0) as f:
            buf = bytearray(BUF)
            while f.readinto(buf):
                pass


def measure(name: str, src: Path, work: Path, cold: bool) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    prepare_cache(src, cold)
    start, peak = cached_kb(), [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], cached_kb() - start)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out = subprocess.run([sys.executable, __file__, "--child", name, str(src), str(work)],
                             check=True, capture_output=True, text=True).stdout
    finally:
        done.set()
        sampler.join()
    result = json.loads(out)
    result["mb_s"] = src.stat().st_size / result["seconds"] / 1e6
    result["cache_growth_mb"] = peak[0] / 1024
    shutil.rmtree(work, ignore_errors=True)
    return result


def write_random_safetensors(path: Path, size: int) -> None:
    """A valid safetensors file of exactly size bytes: one uint8 tensor of random bytes."""
    def header(n: int) -> bytes:
        return json.dumps({"lora_unet_x.lora_down.weight": {"dtype": "U8", "shape": [n],
                                                             "data_offsets": [0, n]}}).encode()
    body = size - 8 - len(header(size)) - 8
    head = header(body)
    head += b" " * (size - 8 - len(head) - body)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little") + head)
        for _ in range(body // BUF):
            f.write(os.urandom(BUF))
        f.write(os.urandom(body % BUF))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size-gib", type=float, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench"))
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child[0], Path(args.child[1]), Path(args.child[2]))
    can_drop = os.access("/proc/sys/vm/drop_caches", os.W_OK)
    args.dir.mkdir(parents=True, exist_ok=True)
    src = args.dir / "bench_lora.safetensors"
    size = int(args.size_gib * (1 << 30))
    if not src.exists() or src.stat().st_size != size:
        write_random_safetensors(src, size)
    temps = ("hot", "cold") if can_drop else ("hot",)
    runs: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.rounds):
        for temp in temps:
            for name in APPROACHES:  # interleaved: every approach once per round and temperature
                res = measure(name, src, args.dir / "work", cold=temp == "cold")
                runs.setdefault((temp, name), []).append(res)
                print(f"round {r + 1} {temp:4} {name:22} {res['mb_s']:7.0f} MB/s  "
                      f"rss {res['maxrss_mb']:5.0f} MB  cache +{res['cache_growth_mb']:5.0f} MB", flush=True)
    report(runs, temps, size)


def report(runs: dict, temps: tuple[str, ...], size: int) -> None:
    med = {k: statistics.median(r["mb_s"] for r in v) for k, v in runs.items()}
    print(f"\nmedians over {len(next(iter(runs.values())))} rounds, {size / (1 << 30):.1f} GiB file")
    for temp in temps:
        fastest_copy = max(COPIES, key=lambda c: med[(temp, c)])
        limit = min(med[(temp, fastest_copy)], med[(temp, "sha256")])
        imp = med[(temp, "import")]
        rss = max(r["maxrss_mb"] for r in runs[(temp, "import")])
        cache = max(r["cache_growth_mb"] for r in runs[(temp, "import")])
        print(f"[{temp}] " + "  ".join(f"{n} {med[(temp, n)]:.0f}" for n in APPROACHES) + " (MB/s)")
        print(f"[{temp}] limit = min({fastest_copy} {med[(temp, fastest_copy)]:.0f}, sha256 "
              f"{med[(temp, 'sha256')]:.0f}) = {limit:.0f} MB/s")
        print(f"[{temp}] import / limit             = {imp / limit:.2f}  (target >= 0.90)")
        ref, hashing = med[(temp, "reference_8k_loop")], med[(temp, "hash_in_place")] / med[(temp, "sha256")]
        print(f"[{temp}] import / reference 8k loop = {imp / ref:.2f}  (target >= 3.5)")
        print(f"[{temp}] hash in place / sha256     = {hashing:.2f}  (target >= 0.90)")
        print(f"[{temp}] import peak RSS {rss:.0f} MB (target <= 100), "
              f"page cache growth {cache:.0f} MB (target <= 256)")


if __name__ == "__main__":
    main()
