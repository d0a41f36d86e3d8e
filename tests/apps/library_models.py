"""Library models for adapter tests: imported by the real importer, or (for a model folder holding a
GGUF and its vision projector, which the importer does not assemble) written with the real
metadata writer. Either way the adapter sees what the linker would give it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from modelshelf.apps.base import LibraryModel, ModelFile
from modelshelf.config import ImportMode
from modelshelf.ingest import ImportJob
from modelshelf.library.metadata import (
    METADATA_NAME,
    ClassificationRecord,
    FileEntry,
    ModelMetadata,
    Source,
    read_metadata,
    utc_now,
    write_metadata,
)
from modelshelf.shelf import Shelf


def library_model(folder: Path) -> LibraryModel:
    """The LibraryModel of a library model folder, from its metadata.json."""
    meta = read_metadata(folder / METADATA_NAME)
    files = tuple(ModelFile(f.name, folder / f.name, f.size, f.sha256) for f in meta.files)
    return LibraryModel(meta.model_id, meta.model_type, meta.family, meta.cleaned_name, meta.format, folder,
                        meta.primary_file, files, meta.sha256, official_name=meta.official_name)


def import_file(shelf: Shelf, path: Path) -> LibraryModel:
    result = shelf.importer().run(ImportJob(path, ImportMode.COPY))
    return library_model(shelf.library.root / result.path)


def hand_made_model(library: Path, name: str, files: dict[str, bytes], primary: str,
                    model_type: str = "llm", family: str = "llama") -> LibraryModel:
    """A model folder of several files with a metadata.json as the importer writes it."""
    folder = library / model_type / family / name
    folder.mkdir(parents=True)
    entries = []
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
        entries.append(FileEntry(file_name, len(data), hashlib.sha256(b"b3" + data).hexdigest(),
                                 hashlib.sha256(data).hexdigest()))
    main = next(e for e in entries if e.name == primary)
    meta = ModelMetadata(f"hand-{name}", model_type, family, name, "gguf", tuple(entries), main.blake3, main.sha256,
                         sum(e.size for e in entries), utc_now(), utc_now(), Source(str(folder), "copy"),
                         ClassificationRecord("gguf_architecture", 0.9, "test"), primary_file=primary)
    write_metadata(folder, meta)
    return library_model(folder)
