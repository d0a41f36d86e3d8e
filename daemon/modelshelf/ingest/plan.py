"""What an import of one path means: which files, under which names, classified how."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..classify import Probe, is_folder_model, is_model_file, probe_file, probe_folder
from ..errors import ImportFailedError, NotAModelError, SourceChangedError
from ..fs.names import numbered, safe_name
from .bookkeeping import downloads_in_progress, is_tool_bookkeeping, walk_content


@dataclass(frozen=True)
class PlannedFile:
    name: str        # relative to the model folder, "/"-separated, safe on every filesystem
    source: Path
    size: int


@dataclass(frozen=True)
class ImportPlan:
    source: Path
    is_folder: bool
    files: tuple[PlannedFile, ...]
    probe: Probe

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def cleaned_name(self) -> str:
        name = self.source.name if self.is_folder else self.source.stem
        return safe_name(name)

    @property
    def primary_file(self) -> str | None:
        return None if self.is_folder else self.files[0].name


def find_importables(path: Path) -> list[Path]:
    """A model file, a folder model, or a plain folder holding those (searched recursively; hidden
    entries, tool bookkeeping among them, are not searched)."""
    if path.is_dir() and not is_folder_model(path):
        found: list[Path] = []
        for entry in sorted(path.iterdir()):
            if entry.name.startswith(".") or is_tool_bookkeeping(PurePosixPath(entry.name)):
                continue
            if entry.is_dir():
                found.extend(find_importables(entry))
            elif is_model_file(entry):
                found.append(entry)
        return found
    return [path]


def plan_import(source: Path, *, follow_symlinks: bool) -> ImportPlan:
    """Validate source and list its files. Raises NotAModelError or ImportFailedError."""
    try:
        st = os.stat(source, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        raise ImportFailedError(source, "importing", "it does not exist") from None
    except OSError as e:
        raise ImportFailedError(source, "importing", e) from e
    if stat.S_ISLNK(st.st_mode):
        raise NotAModelError(source, "it is a symlink; import the file it points to instead")
    if stat.S_ISDIR(st.st_mode):
        return _plan_folder(source, follow_symlinks)
    if not stat.S_ISREG(st.st_mode):
        raise NotAModelError(source, "not a regular file")
    probe = probe_file(source)
    return ImportPlan(source, False, (PlannedFile(safe_name(source.name), source, st.st_size),), probe)


def _unique(rel: PurePosixPath, taken: set[str]) -> str:
    """Two names made safe the same way ("a:b", "a_b"), or differing only in case (the library
    may be on NTFS), get " (2)", " (3)"… so that no file of the model overwrites another."""
    name = next(n.as_posix() for n in numbered(rel) if n.as_posix().casefold() not in taken)
    taken.add(name.casefold())
    return name


def _plan_folder(folder: Path, follow_symlinks: bool) -> ImportPlan:
    if not is_folder_model(folder):
        raise NotAModelError(folder, "a folder is imported as one model only when it holds a "
                             "model_index.json or config.json (diffusers/transformers layout)")
    _refuse_while_downloading(folder)
    files: list[PlannedFile] = []
    taken: set[str] = set()
    for dirpath, dirnames, filenames in walk_content(folder):   # a tool's bookkeeping is not the model
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                if not follow_symlinks:
                    raise NotAModelError(folder, f"it contains a symlink ({path}); moving would "
                                         "leave its target behind: import it as a copy")
                st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                raise NotAModelError(folder, f"{path} is not a regular file")
            if is_model_file(path):
                probe_file(path)  # a truncated shard must stop the whole import
            rel = PurePosixPath(*(safe_name(p) for p in path.relative_to(folder).parts))
            files.append(PlannedFile(_unique(rel, taken), path, st.st_size))
    if not any(is_model_file(f.source) for f in files):
        raise NotAModelError(folder, "the folder holds no model files (.safetensors, .bin, ...)")
    return ImportPlan(folder, True, tuple(files), probe_folder(folder))


def _refuse_while_downloading(folder: Path) -> None:
    """A download tool still writing into the folder: it is not complete yet. The error counts as
    a change under the import, so an inbox entry stays to arrive again once it is done."""
    busy = downloads_in_progress(folder)
    if busy:
        raise ImportFailedError(folder, "importing", SourceChangedError(
            errno.EBUSY, f"a download into it is still in progress ({busy[0].as_posix()})"))
