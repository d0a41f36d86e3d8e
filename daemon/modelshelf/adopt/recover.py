"""Start-up recovery of adoptions cut short, one journal row (one app file) at a time.

The app's name always held complete bytes, so recovery only decides which:
  - the temp link beside the app file, if left, is removed (the library keeps its own name);
  - the app's name already is a link to the library file (the rename happened): register it;
  - the library holds the verified copy (IMPORTED and later) and the app file is still exactly
    the file that was hashed (inode, size, mtime): finish, a new link renamed over its name;
  - otherwise (PLANNED: staging was already cleaned; or the app file changed): leave the app
    file as it is. A re-run of `adopt` finds it again.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..apps import AppInstall, AppKind, LinkKind
from ..apps.filelinks import FileLinker, is_link_to
from ..errors import ModelshelfError, SourceChangedError
from ..ingest.retire import file_key
from .applinks import link_record, register_install
from .faces import OpenedShelf
from .journal import JOURNAL_NAME, AdoptJournal, Entry, Phase
from .swap import swap_in_link, temp_name

log = logging.getLogger(__name__)


class Recovered(enum.StrEnum):
    FINISHED = "finished"      # the app's name is now a registered link to the library copy
    LEFT = "left"              # the app's file is kept as it is


@dataclass(frozen=True)
class RecoveredFile:
    path: Path
    outcome: Recovered
    detail: str = ""


def recover_adoptions(shelf: OpenedShelf) -> list[RecoveredFile]:
    """Finish or roll back every adoption the journal shows under way. Call with the writer lock
    held, after staging recovery and the index's dirty paths (the models it links to are indexed)."""
    if not (shelf.config.paths.state_dir / JOURNAL_NAME).exists():
        return []
    journal = AdoptJournal(shelf.config.paths.state_dir)
    files = FileLinker(shelf.library.root)
    try:
        done = []
        for entry in journal.entries():
            try:
                outcome = _recover(shelf, files, entry)
            except OSError as e:
                outcome = RecoveredFile(entry.path, Recovered.LEFT, f"{e.strerror} ({e.filename})")
            except (ModelshelfError, ValueError) as e:    # a row it cannot act on must not stop start-up
                outcome = RecoveredFile(entry.path, Recovered.LEFT, str(e))
            log.warning("adoption of %s interrupted: %s%s", entry.path, outcome.outcome.value,
                        f" ({outcome.detail})" if outcome.detail else "")
            journal.done(entry.path)
            done.append(outcome)
        return done
    finally:
        journal.close()


def _recover(shelf: OpenedShelf, files: FileLinker, entry: Entry) -> RecoveredFile:
    if entry.temp is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.temp)
    if entry.library_file is None or entry.model_id is None or entry.phase is Phase.PLANNED:
        return RecoveredFile(entry.path, Recovered.LEFT, "it had not reached the library")
    library_file = shelf.library.root / entry.library_file
    if not library_file.is_file():
        return RecoveredFile(entry.path, Recovered.LEFT, f"{library_file} is missing")
    if entry.kind is None:
        return RecoveredFile(entry.path, Recovered.LEFT, "no link kind was chosen yet")
    kind = LinkKind(entry.kind)
    if not _is_done(entry.path, library_file, kind):
        try:
            if file_key(os.lstat(entry.path)) != entry.key:
                return RecoveredFile(entry.path, Recovered.LEFT, "it changed since it was hashed")
            swap_in_link(entry.path, library_file, kind, entry.key, temp_name(entry.path))
        except (FileNotFoundError, SourceChangedError) as e:
            return RecoveredFile(entry.path, Recovered.LEFT, str(e))
    _register(shelf, files, entry)
    return RecoveredFile(entry.path, Recovered.FINISHED)


def _is_done(path: Path, library_file: Path, kind: LinkKind) -> bool:
    """The app's name is the link the adoption meant to make (a hardlink made into staging also
    shares the inode, but is only the result when the kind is a hardlink)."""
    if kind is LinkKind.HARDLINK:
        return not os.path.islink(path) and is_link_to(path, library_file)
    return os.path.islink(path) and is_link_to(path, library_file)


def _register(shelf: OpenedShelf, files: FileLinker, entry: Entry) -> None:
    """The row the run would have written: the same LinkRecord, its install known by its kind."""
    known = shelf.registry.known_installs().get(entry.install)
    install = AppInstall(Path(entry.install), entry.app or (known.kind if known else AppKind.FOLDERS))
    register_install(shelf.registry, install)
    shelf.registry.add(link_record(files, install, install.root / entry.target, entry.model_id or "",
                                   entry.library_file or ""))
