"""Model files built from the headers make_fixtures.py recorded from the real libraries.

headers.json.gz keeps each fixture's tensor names, dtypes and (tiny) shapes; this writes a real,
complete safetensors file from one with the safetensors package, zero-filled.
"""

from __future__ import annotations

import base64
import gzip
import json
import zipfile
from functools import cache
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

FIXTURES = Path(__file__).parent / "fixtures"
_DTYPES = {"F16": np.float16, "F32": np.float32, "BF16": np.float16}


@cache
def headers() -> dict[str, dict]:
    with gzip.open(FIXTURES / "headers.json.gz", "rb") as f:
        return json.load(f)


@cache
def extras() -> dict:
    return json.loads((FIXTURES / "extras.json").read_text())


def tensor_names(name: str) -> list[str]:
    return sorted(headers()[name]["tensors"])


def write_fixture(path: Path, name: str, metadata: dict[str, str] | None = None,
                  rename: dict[str, str] | None = None) -> Path:
    """A safetensors file holding fixture `name`'s tensors (zeros); `rename` maps old -> new prefixes."""
    entry = headers()[name]
    tensors = {}
    for key, (dtype, shape) in entry["tensors"].items():
        for old, new in (rename or {}).items():
            if key.startswith(old):
                key = new + key[len(old):]
        tensors[key] = np.zeros(shape, dtype=_DTYPES[dtype])
    save_file(tensors, str(path), metadata={**entry["metadata"], **(metadata or {})} or None)
    return path


def write_torch_pickle(path: Path, name: str) -> Path:
    """A torch zip archive holding the data.pkl torch.save wrote for fixture `name` (hypernetwork.pt,
    ip-adapter_sd15.bin, mm_sd_v15_v2.ckpt); the tensor blobs are left out, as classification never
    reads them."""
    data = base64.b64decode(extras()["torch_data_pkl"][name])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data)
        z.writestr("archive/version", "3\n")
    return path


def write_config_folder(folder: Path, config_name: str, weights: str | None = None) -> Path:
    """A folder as save_pretrained lays it out: config.json (+ weights from a header fixture)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(extras()["configs"][config_name]))
    if weights:
        write_fixture(folder / "diffusion_pytorch_model.safetensors", weights)
    return folder
