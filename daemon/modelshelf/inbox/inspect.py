"""The I/O the arrival tracker needs: signatures of inbox entries and the model self-check."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePath

from ..classify import is_model_file, probe_file
from ..errors import NotAModelError, TruncatedModelError
from ..ingest.bookkeeping import is_download_in_progress, walk_content
from .arrival import CheckResult, Signature
from .ignore import IgnoreRules


def signature_of(path: Path, ignore: IgnoreRules) -> Signature | None:
    """Size and mtime of a file, or of a whole folder tree (symlinks are not followed). A download
    tool's bookkeeping counts too: while the tool writes there, the folder is still changing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return Signature(st.st_size, st.st_mtime_ns)
    size, newest, files, partial = 0, st.st_mtime_ns, 0, 0
    for dirpath, dirnames, filenames in os.walk(path):
        here = PurePath(os.path.relpath(dirpath, path))
        for name in filenames + dirnames:
            try:
                s = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            newest = max(newest, s.st_mtime_ns)
            if not stat.S_ISDIR(s.st_mode):
                size, files = size + s.st_size, files + 1
                partial += ignore.partial_inside(name) or is_download_in_progress(here / name)
    return Signature(size, newest, files, partial, is_folder=True)


def self_check(path: Path) -> tuple[CheckResult, str]:
    """TRUNCATED if a model file's own header says bytes are missing, or a diffusers folder lacks
    a component its model_index.json lists; anything else is left to the importer (which explains
    what is wrong with a file that is not a model)."""
    if path.is_dir():
        return _folder_check(path)
    if not is_model_file(path):
        return CheckResult.OK, ""
    try:
        probe_file(path)
    except TruncatedModelError as e:
        return CheckResult.TRUNCATED, e.reason
    except NotAModelError:
        pass
    return CheckResult.OK, ""


def _folder_check(folder: Path) -> tuple[CheckResult, str]:
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        index = {}
    for name, value in (index.items() if isinstance(index, dict) else ()):
        # Components are listed as "unet": ["diffusers", "UNet2DConditionModel"]; null means absent.
        if isinstance(value, list) and len(value) == 2 and all(value):
            part = folder / name
            if not part.is_dir() or not any(part.iterdir()):
                return CheckResult.TRUNCATED, f"component {name}/ listed in model_index.json is missing"
    for dirpath, _, filenames in walk_content(folder):   # not the weights a .git keeps a copy of
        for path in sorted(Path(dirpath) / name for name in filenames):
            if is_model_file(path) and path.is_file():
                result, reason = self_check(path)
                if result is CheckResult.TRUNCATED:
                    return result, f"{path.relative_to(folder)}: {reason}"
    return CheckResult.OK, ""
