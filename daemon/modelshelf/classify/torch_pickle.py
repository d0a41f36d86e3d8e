"""PyTorch .ckpt/.pt/.pth/.bin files, read without unpickling (which would run arbitrary code).

A torch zip archive holds `<name>/data.pkl`; walking its pickle opcodes (pickletools, which never
executes anything) yields the state-dict key strings that classification needs.
"""

from __future__ import annotations

import pickletools
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import NotAModelError

ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOLS = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_MAX_PICKLE_BYTES = 64 * 1024 * 1024
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"}
_MAX_KEY_CHARS = 256


@dataclass(frozen=True)
class TorchHeader:
    keys: tuple[str, ...]   # strings seen in the pickle: state-dict keys among them
    zipped: bool


def read_torch_header(path: Path, file: BinaryIO, size: int) -> TorchHeader:
    head = file.read(4)
    file.seek(0)
    if head == ZIP_MAGIC:
        return TorchHeader(_zip_keys(path, file), zipped=True)
    if head[:2] in _PICKLE_PROTOCOLS:
        return TorchHeader((), zipped=False)  # legacy format: names come from the file name
    raise NotAModelError(path, "not a PyTorch file (neither a torch zip archive nor a pickle)")


def _zip_keys(path: Path, file: BinaryIO) -> tuple[str, ...]:
    try:
        archive = zipfile.ZipFile(file)
        pkl = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
        if pkl is None:
            raise NotAModelError(path, "zip archive without data.pkl: not a PyTorch file")
        if archive.getinfo(pkl).file_size > _MAX_PICKLE_BYTES:
            return ()
        data = archive.read(pkl)
    except (zipfile.BadZipFile, EOFError) as e:
        raise NotAModelError(path, f"damaged or truncated PyTorch archive ({e})") from None
    keys = []
    try:
        for op, arg, _ in pickletools.genops(data):
            # dotted state-dict keys, and bare ones such as a hypernetwork's "layer_structure"
            if op.name in _STRING_OPS and isinstance(arg, str) and 0 < len(arg) <= _MAX_KEY_CHARS \
                    and not any(c.isspace() for c in arg):
                keys.append(arg)
    except (ValueError, EOFError):
        pass  # a pickle we cannot walk to the end still named the keys it reached
    return tuple(keys)
