"""GGUF header reader (stdlib only; gguf.GGUFReader takes ~0.7 s and pulls numpy).

Reads the key/values (keeping `general.*` and the few others classification needs) and the tensor
table, and checks the file holds every tensor's bytes: a cut-off download is caught here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import NotAModelError, TruncatedModelError

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# ggml type -> (elements per block, bytes per block); checked against gguf's table in the tests.
GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210),
    15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18),
    21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4),
    27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54), 35: (256, 66), 39: (32, 17),
    40: (64, 36), 41: (128, 18),
}
_KEEP_PREFIXES = ("general.", "clip.", "adapter.")
_MAX_STRING = 64 * 1024 * 1024
_MAX_COUNT = 1 << 32


@dataclass(frozen=True)
class GGUFHeader:
    version: int
    fields: dict[str, Any]          # general.*, clip.* and adapter.* keys only
    tensor_names: tuple[str, ...]
    data_end: int

    @property
    def architecture(self) -> str:
        return str(self.fields.get("general.architecture", ""))


class _Reader:
    def __init__(self, path: Path, file: BinaryIO, size: int) -> None:
        self.path, self.file, self.size = path, file, size

    def take(self, n: int) -> bytes:
        data = self.file.read(n)
        if len(data) != n:
            raise TruncatedModelError(self.path, self.file.tell() - len(data) + n, self.size)
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > _MAX_STRING:
            raise NotAModelError(self.path, f"GGUF string of {n} bytes is impossible (corrupt header)")
        return self.take(n).decode("utf-8", "replace")

    def value(self, kind: int, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item, count = self.unpack("<I"), self.unpack("<Q")
            if count > _MAX_COUNT:
                raise NotAModelError(self.path, f"GGUF array of {count} items is impossible")
            if item in _SCALARS and not keep:  # skip token tables without reading them item by item
                self.file.seek(count * struct.calcsize(_SCALARS[item]), 1)
                return None
            values = [self.value(item, keep) for _ in range(count)]
            return values if keep else None
        raise NotAModelError(self.path, f"GGUF value type {kind} is unknown (corrupt header?)")


def read_gguf_header(path: Path, file: BinaryIO, size: int) -> GGUFHeader:
    """Parse and check a GGUF file's header; raise NotAModelError (TruncatedModelError if short)."""
    r = _Reader(path, file, size)
    if size < 24 or r.take(4) != MAGIC:
        raise NotAModelError(path, "bad GGUF magic: the file is not GGUF (or is corrupt)")
    version = r.unpack("<I")
    if version not in (1, 2, 3):
        raise NotAModelError(path, f"GGUF version {version} is not supported")
    count_fmt = "<I" if version == 1 else "<Q"
    tensor_count, kv_count = r.unpack(count_fmt), r.unpack(count_fmt)
    if tensor_count > _MAX_COUNT or kv_count > _MAX_COUNT:
        raise NotAModelError(path, "GGUF header counts are impossible (corrupt header)")
    fields: dict[str, Any] = {}
    for _ in range(kv_count):
        key = r.string()
        keep = key.startswith(_KEEP_PREFIXES)
        value = r.value(r.unpack("<I"), keep)
        if keep:
            fields[key] = value
    names, data_end = [], 0
    for _ in range(tensor_count):
        name = r.string()
        dims = [r.unpack(count_fmt) for _ in range(r.unpack("<I"))]
        kind, offset = r.unpack("<I"), r.unpack("<Q")
        names.append(name)
        data_end = max(data_end, offset + _tensor_bytes(path, name, dims, kind))
    alignment = int(fields.get("general.alignment", 32)) or 32
    data_start = -(-file.tell() // alignment) * alignment
    expected = data_start + data_end
    if size < expected:
        raise TruncatedModelError(path, expected, size)
    return GGUFHeader(version, fields, tuple(names), expected)


def _tensor_bytes(path: Path, name: str, dims: list[int], kind: int) -> int:
    if kind not in GGML_BLOCKS:
        raise NotAModelError(path, f"GGUF tensor {name!r} has unknown type {kind}")
    elements = 1
    for d in dims:
        elements *= d
    block, nbytes = GGML_BLOCKS[kind]
    return elements // block * nbytes
