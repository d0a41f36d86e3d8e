#!/usr/bin/env python3
"""Incremental sync (one model into every install) against a full sync, into installs of mixed
kinds: 2 ComfyUI, A1111, Forge, SD.Next, SwarmUI, Fooocus, text-generation-webui, LM Studio and
llama.cpp (10 by default), laid out as each app lays itself out.

For libraries of --sizes models (synthetic, as in rebuild_index.py, with GGUF language models):
the filesystem operations and time of a full sync (first run, creating every link, and a second
run, all present) and of the incremental sync one import triggers (median over 50 models).
Targets: the per-import cost flat as the library grows (ratio small/large library near 1), and
far below a full sync.

  python3 benchmarks/incremental_sync.py [--sizes 1000 10000] [--installs 10] [--dir /var/tmp/msbench-sync]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "daemon"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rebuild_index import TYPES, _fast_write  # noqa: E402

from modelshelf.config import AppConfig, AppKind  # noqa: E402
from modelshelf.index import ModelIndex, rebuild_index  # noqa: E402
from modelshelf.library import open_library  # noqa: E402
from modelshelf.library.metadata import ClassificationRecord, FileEntry, ModelMetadata, Source, utc_now  # noqa: E402
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


def make_library(root: Path, count: int) -> None:
    """Synthetic models of every common type; language models as GGUF files."""
    library = open_library(root, may_create=True)
    now = utc_now()
    for i in range(count):
        model_type, family = TYPES[i % len(TYPES)]
        fmt = "gguf" if model_type == "llm" else "safetensors"
        name = f"model_{i:06d}"
        folder = library.model_dir(model_type, family, name)
        folder.mkdir(parents=True)
        data = i.to_bytes(8, "little") * 4
        b3 = hashlib.blake2b(data, digest_size=32).hexdigest()  # stands in for BLAKE3 here
        sha = hashlib.sha256(data).hexdigest()
        (folder / f"{name}.{fmt}").write_bytes(data)
        _fast_write(folder, ModelMetadata(
            model_id=b3[:16], model_type=model_type, family=family, cleaned_name=name, format=fmt,
            files=(FileEntry(f"{name}.{fmt}", len(data), b3, sha),), blake3=b3, sha256=sha, size_bytes=len(data),
            added_at=now, updated_at=now, source=Source(f"/inbox/{name}.{fmt}", "copy"),
            classification=ClassificationRecord("tensor_names", 0.95, "synthetic"), primary_file=f"{name}.{fmt}",
            hub={"repo_id": f"bench/{name}-GGUF"} if fmt == "gguf" else None, tags=("bench",)))


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


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def run(size: int, installs: int, work: Path) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    make_library(work / "library", size)
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
