#!/usr/bin/env python3
"""Incremental sync (one model into every install) against a full sync, with 5 ComfyUI installs.

For libraries of --sizes models (synthetic, as in rebuild_index.py): the filesystem operations
and time of a full sync (first run, creating every link, and a second run, all present) and of
an incremental sync of one model (median over 50 models). Targets: incremental >= 100x cheaper
than a full sync, and flat as the library grows.

  python3 benchmarks/incremental_sync.py [--sizes 1000 10000] [--installs 5] [--dir /var/tmp/msbench-sync]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rebuild_index import make_library  # noqa: E402

from modelshelf.config import AppConfig  # noqa: E402
from modelshelf.index import ModelIndex, rebuild_index  # noqa: E402
from modelshelf.library import open_library  # noqa: E402
from modelshelf.links import Linker, LinkRegistry  # noqa: E402

FOLDERS = ["checkpoints", "diffusion_models", "loras", "vae", "controlnet", "text_encoders", "clip_vision",
           "embeddings", "upscale_models"]


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run(size: int, installs: int, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    make_library(work / "library", size)
    for i in range(installs):
        for folder in FOLDERS:
            (work / "apps" / f"comfy{i}" / "models" / folder).mkdir(parents=True)
    library = open_library(work / "library", may_create=False)
    index = ModelIndex(work / "models.db")
    rebuild_index(library, index)
    registry = LinkRegistry(work / "registry.db")
    linker = Linker(library, index, registry, (AppConfig(root=str(work / "apps" / "*")),))
    linker.ops = 0
    first, first_s = timed(linker.sync_all)
    first_ops, linker.ops = linker.ops, 0
    _, again_s = timed(linker.sync_all)
    again_ops = linker.ops
    models = random.Random(1).sample(index.all(), 50)
    inc_ops, inc_s = [], []
    for m in models:
        linker.ops = 0
        _, seconds = timed(lambda m=m: linker.sync_model(m))
        inc_ops.append(linker.ops)
        inc_s.append(seconds)
    index.close()
    registry.close()
    return {"size": size, "links": len(first), "full_first_ops": first_ops, "full_first_s": first_s,
            "full_again_ops": again_ops, "full_again_s": again_s,
            "inc_ops": statistics.median(inc_ops), "inc_s": statistics.median(inc_s)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--installs", type=int, default=5)
    p.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench-sync"))
    args = p.parse_args()
    rows = [run(size, args.installs, args.dir / str(size)) for size in args.sizes]
    for r in rows:
        print(f"{r['size']:>6} models × {args.installs} installs ({r['links']} links): "
              f"full sync {r['full_first_ops']} ops {r['full_first_s']:.2f} s (again: {r['full_again_ops']} ops "
              f"{r['full_again_s']:.2f} s); incremental {r['inc_ops']:.0f} ops {r['inc_s'] * 1000:.2f} ms → "
              f"{r['full_again_ops'] / r['inc_ops']:.0f}× fewer ops, {r['full_again_s'] / r['inc_s']:.0f}× faster "
              f"than a full sync")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"incremental cost from {a['size']} to {b['size']} models: ops {a['inc_ops']:.0f} → {b['inc_ops']:.0f}, "
              f"time {a['inc_s'] * 1000:.2f} → {b['inc_s'] * 1000:.2f} ms (target: flat)")
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
