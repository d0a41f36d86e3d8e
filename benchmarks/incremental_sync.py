#!/usr/bin/env python3
"""Incremental sync (one model into every install) against a full sync, into installs of mixed
kinds: 2 ComfyUI, A1111, Forge, SD.Next, SwarmUI, Fooocus, text-generation-webui, LM Studio and
llama.cpp (10 by default), laid out as each app lays itself out.

For libraries of --sizes models (synthetic, as in rebuild_index.py, with GGUF language models):
the filesystem operations and time of a full sync (first run, creating every link, and a second
run, all present) and of the incremental sync one import triggers (median over 70 models
just added to the library, 10 of each type).
Targets: the per-import cost flat as the library grows (ratio small/large library near 1), and
far below a full sync.

  python3 benchmarks/incremental_sync.py [--sizes 1000 10000] [--installs 10] [--dir /var/tmp/msbench-sync]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rebuild_index import make_library  # noqa: E402

from modelshelf.config import AppConfig, AppKind  # noqa: E402
from modelshelf.index import ModelIndex, rebuild_index  # noqa: E402
from modelshelf.library import open_library  # noqa: E402
from modelshelf.links import Linker, LinkRegistry  # noqa: E402

# kind -> (marker files, folders) as the app lays them out (see tests/apps/conftest.py LAYOUTS)
LAYOUTS: dict[AppKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    AppKind.COMFYUI: (("main.py",), tuple(f"models/{f}" for f in (
        "checkpoints", "diffusion_models", "loras", "vae", "controlnet", "text_encoders", "clip_vision",
        "embeddings", "upscale_models"))),
    AppKind.A1111: (("webui.py", "modules/shared.py"), ("embeddings", "models/Stable-diffusion", "models/Lora",
                                                        "models/VAE", "models/ControlNet")),
    AppKind.FORGE: (("webui.py", "modules/shared.py", "modules_forge/shared.py"),
                    ("embeddings", "models/Stable-diffusion", "models/Lora", "models/VAE", "models/text_encoder",
                     "models/ControlNet")),
    AppKind.SDNEXT: (("webui.py", "installer.py", "modules/shared.py"),
                     ("models/Stable-diffusion", "models/Lora", "models/VAE", "models/Text-encoder",
                      "models/embeddings", "models/control")),
    AppKind.SWARMUI: (("launchtools/x", "src/SwarmUI.csproj"),
                      ("Models/Stable-Diffusion", "Models/Lora", "Models/VAE", "Models/Embeddings",
                       "Models/controlnet", "Models/text_encoders")),
    AppKind.FOOOCUS: (("fooocus_version.py",), ("models/checkpoints", "models/loras", "models/vae",
                                                "models/embeddings", "models/controlnet")),
    AppKind.TEXTGEN: (("server.py", "modules/shared.py"), ("user_data/models",)),
    AppKind.LMSTUDIO: ((), ()),
    AppKind.LLAMACPP: ((), ()),
}
MIX = [AppKind.COMFYUI, AppKind.A1111, AppKind.FORGE, AppKind.SDNEXT, AppKind.SWARMUI, AppKind.FOOOCUS,
       AppKind.TEXTGEN, AppKind.LMSTUDIO, AppKind.LLAMACPP, AppKind.COMFYUI]


def make_installs(apps_dir: Path, count: int) -> tuple[AppConfig, ...]:
    apps = []
    for i in range(count):
        kind = MIX[i % len(MIX)]
        root = apps_dir / f"{kind.value}{i}"
        markers, folders = LAYOUTS[kind]
        for folder in folders:
            (root / folder).mkdir(parents=True, exist_ok=True)
        for marker in markers:
            (root / marker).parent.mkdir(parents=True, exist_ok=True)
            (root / marker).write_text("#\n")
        root.mkdir(parents=True, exist_ok=True)
        apps.append(AppConfig(root=str(root), kind=kind))
    return tuple(apps)


IMPORTS = 70          # 10 of each type


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run(size: int, installs: int, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    make_library(work / "library", size, gguf_llms=True)
    apps = make_installs(work / "apps", installs)
    library = open_library(work / "library", may_create=False)
    index = ModelIndex(work / "models.db")
    rebuild_index(library, index)
    registry = LinkRegistry(work / "registry.db")
    linker = Linker(library, index, registry, apps)
    linker.ops = 0
    first, first_s = timed(linker.sync_all)
    first_ops, linker.ops = linker.ops, 0
    _, again_s = timed(linker.sync_all)
    again_ops = linker.ops
    # What one import triggers: a model just placed in the library, linked into every install.
    inc_ops, inc_s = [], []
    for meta, rel in make_library(work / "library", IMPORTS, first=size, gguf_llms=True):
        index.upsert(meta, rel)
        model = index.get(meta.model_id)
        linker.ops = 0
        _, seconds = timed(lambda m=model: linker.sync_model(m))
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
    p.add_argument("--installs", type=int, default=10)
    p.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench-sync"))
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)     # one warning per folder (container, NTFS) is noise here
    kinds = ", ".join(k.value for k in MIX[:args.installs])
    print(f"installs: {kinds}")
    rows = [run(size, args.installs, args.dir / str(size)) for size in args.sizes]
    for r in rows:
        print(f"{r['size']:>6} models × {args.installs} installs ({r['links']} links): "
              f"full sync {r['full_first_ops']} ops {r['full_first_s']:.2f} s (again: {r['full_again_ops']} ops "
              f"{r['full_again_s']:.2f} s); one import's incremental sync {r['inc_ops']:.0f} ops "
              f"{r['inc_s'] * 1000:.2f} ms → {r['full_again_ops'] / r['inc_ops']:.0f}× fewer ops, "
              f"{r['full_again_s'] / r['inc_s']:.0f}× faster than a full sync")
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"per-import incremental cost, {a['size']} vs {b['size']} models: ops {a['inc_ops']:.0f} → "
              f"{b['inc_ops']:.0f}, time {a['inc_s'] * 1000:.2f} → {b['inc_s'] * 1000:.2f} ms, "
              f"ratio large/small {b['inc_s'] / a['inc_s']:.2f} (target: flat, ≈1)")
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
