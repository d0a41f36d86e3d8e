#!/usr/bin/env python3
"""Deep-scan rebuild of models.db from N synthetic models' metadata.json files: models/s.

Each model is a folder library/<type>/<family>/<name>/ holding a small model file and a real
metadata.json (the current schema). The rebuild reads every metadata.json, checks each listed file, and
replaces the index in one transaction. Warm runs are medians of --rounds; a cold run (page cache
dropped, root only) is reported too. Target: >= 5,000 models/s.

  python3 benchmarks/rebuild_index.py [--models 20000] [--rounds 3] [--dir /var/tmp/msbench-rebuild]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from modelshelf.index import ModelIndex, rebuild_index  # noqa: E402
from modelshelf.library import (  # noqa: E402
    ClassificationRecord,
    FileEntry,
    ModelMetadata,
    Source,
    open_library,
    write_metadata,
)
from modelshelf.library.metadata import utc_now  # noqa: E402

TYPES = [("lora", "sdxl"), ("checkpoint", "sd15"), ("vae", "flux"), ("llm", "llama"),
         ("text_encoder", "t5xxl"), ("controlnet", "sdxl"), ("embedding", "sd15")]


def make_library(root: Path, count: int, first: int = 0,
                 gguf_llms: bool = False) -> list[tuple[ModelMetadata, str]]:
    """Synthetic models of every common type (with gguf_llms, language models as GGUF files
    matched on the Hub); returns (metadata, folder relative to root) of each."""
    library = open_library(root, may_create=True)
    now = utc_now()
    made = []
    for i in range(first, first + count):
        model_type, family = TYPES[i % len(TYPES)]
        fmt = "gguf" if gguf_llms and model_type == "llm" else "safetensors"
        name = f"model_{i:06d}"
        folder = library.model_dir(model_type, family, name)
        folder.mkdir(parents=True)
        data = i.to_bytes(8, "little") * 4
        b3 = hashlib.blake2b(data, digest_size=32).hexdigest()  # stands in for BLAKE3 here
        sha = hashlib.sha256(data).hexdigest()
        (folder / f"{name}.{fmt}").write_bytes(data)
        meta = ModelMetadata(
            model_id=b3[:16], model_type=model_type, family=family, cleaned_name=name, format=fmt,
            files=(FileEntry(f"{name}.{fmt}", len(data), b3, sha),), blake3=b3, sha256=sha, size_bytes=len(data),
            added_at=now, updated_at=now, source=Source(f"/inbox/{name}.{fmt}", "copy"),
            classification=ClassificationRecord("tensor_names", 0.95, "synthetic"), primary_file=f"{name}.{fmt}",
            hub={"repo_id": f"bench/{name}-GGUF"} if fmt == "gguf" else None, tags=("bench",))
        write_metadata(folder, meta) if i < 10 else _fast_write(folder, meta)
        made.append((meta, folder.relative_to(root).as_posix()))
    return made


def _fast_write(folder: Path, meta: ModelMetadata) -> None:
    # Building the fixture need not be durable; the scan reads exactly what write_metadata writes.
    from modelshelf.library.metadata import encode_metadata
    (folder / "metadata.json").write_bytes(encode_metadata(meta))


def one_rebuild(root: Path, db: Path) -> tuple[float, int]:
    library = open_library(root, may_create=False)
    db.unlink(missing_ok=True)
    index = ModelIndex(db)
    started = time.perf_counter()
    report = rebuild_index(library, index)
    seconds = time.perf_counter() - started
    index.close()
    assert not report.warnings, report.warnings[:3]
    return seconds, len(report.records)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", type=Path, default=Path("/var/tmp/msbench-rebuild"))
    args = p.parse_args()
    root = args.dir / f"library-{args.models}"
    if not (root / ".modelshelf-library").exists():
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        make_library(root, args.models)
        print(f"made {args.models} synthetic models in {time.perf_counter() - started:.1f} s")
    db = args.dir / "models.db"
    warm = [one_rebuild(root, db) for _ in range(args.rounds)]
    rates = [n / s for s, n in warm]
    print(f"warm: {args.models} models, median {statistics.median(s for s, _ in warm):.2f} s, "
          f"{statistics.median(rates):,.0f} models/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})")
    if os.access("/proc/sys/vm/drop_caches", os.W_OK):
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        seconds, n = one_rebuild(root, db)
        print(f"cold: {n} models in {seconds:.2f} s, {n / seconds:,.0f} models/s")
    print("target: >= 5,000 models/s")


if __name__ == "__main__":
    main()
