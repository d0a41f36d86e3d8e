"""safetensors header reader (stdlib only; the safetensors package needs numpy or torch for this).

Layout: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the tensor data. A file is complete
exactly when 8 + N + the largest data end equals its size.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import NotAModelError, TruncatedModelError

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit


@dataclass(frozen=True)
class SafetensorsHeader:
    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str]
    data_end: int  # where the file must end


def read_safetensors_header(path: Path, file: BinaryIO, size: int) -> SafetensorsHeader:
    """Parse and check the header; raise NotAModelError (TruncatedModelError if short)."""
    if size < 8:
        raise NotAModelError(path, f"{size} bytes is too short for a safetensors file")
    (length,) = struct.unpack("<Q", file.read(8))
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise NotAModelError(path, f"safetensors header length {length} is impossible "
                             "(the file is corrupt or not safetensors)")
    if 8 + length > size:
        raise TruncatedModelError(path, 8 + length, size)
    try:
        header = json.loads(file.read(length))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NotAModelError(path, f"safetensors header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise NotAModelError(path, "safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    shapes, data_end = {}, 0
    for name, info in header.items():
        try:
            begin, end = info["data_offsets"]
            shapes[name] = tuple(int(d) for d in info["shape"])
        except (TypeError, KeyError, ValueError):
            raise NotAModelError(path, f"safetensors tensor {name!r} has no valid data_offsets/shape") from None
        if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
            raise NotAModelError(path, f"safetensors tensor {name!r} has bad offsets {begin}..{end}")
        data_end = max(data_end, end)
    expected = 8 + length + data_end
    if expected > size:
        raise TruncatedModelError(path, expected, size)
    if expected < size:
        raise NotAModelError(path, f"{size - expected} unexpected bytes after the tensor data "
                             "(the file is corrupt or not safetensors)")
    if not isinstance(metadata, dict):
        metadata = {}
    return SafetensorsHeader(shapes, {str(k): str(v) for k, v in metadata.items()}, expected)
