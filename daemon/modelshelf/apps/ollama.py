"""Ollama: library GGUFs registered as Ollama models without a byte copied.

Root: Ollama's models folder (`OLLAMA_MODELS`, default `~/.ollama/models`; the systemd service
that Ollama's install script sets up runs as user `ollama` with `/usr/share/ollama/.ollama/models`,
and that user must be able to read the library for symlinked blobs). Marker: `blobs/` or
`manifests/`. Only GGUF language models go to Ollama, with a vision projector (`*mmproj*.gguf`) of
the same model folder as a projector layer; a projector alone is not a model Ollama can run.

Each model makes two kinds of registry rows, applied in plan order:
1. BLOB: `blobs/sha256-<hex>` is a hardlink (same filesystem) or symlink of the library file
   (ollama_blobs.py): the name Ollama looks for is the SHA-256 modelshelf already has.
2. MANIFEST: `manifests/registry.ollama.ai/library/<model>/<tag>` plus its config blob, in
   Ollama's format (ollama_format.py). When the server answers and is older than 0.30 it writes
   them itself through POST /api/create (it then reuses our blob); from 0.30 on, create copies
   the GGUF through llama-quantize (ollama_api.FIRST_COPYING_CREATE), so modelshelf writes the
   manifest itself and asks the server (HEAD /api/blobs, GET /api/tags) to confirm it sees it:
   Ollama re-reads manifests from disk on every list (server/model_list_cache.go syncManifests).

Start-up prune (server/routes.go Serve -> images.go PruneLayers/deleteUnusedLayers) deletes blobs
that no manifest references, config included: every blob made here is referenced by the manifest
written with it (tests/apps/test_ollama_prune.py runs that rule over the layout).
Deleting removes the manifest, then the config blob and our blob links that no manifest still
references (manifest.go RemoveLayers' rule): an `ollama cp` of the model keeps its blob.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..config import AppConfig, AppKind
from ..errors import MetadataError
from ..fs.durable import atomic_write_bytes, fsync_dir
from ..library.metadata import METADATA_NAME, ModelMetadata, read_metadata
from . import ollama_format as fmt
from .base import (
    AdapterEnv,
    AppInstall,
    Applied,
    ApplyStatus,
    Finding,
    LibraryModel,
    LinkKind,
    LinkRecord,
    Placement,
    PlacementMethod,
    Problem,
    is_dir,
    markers_present,
)
from .filelinks import link_kind_of
from .http_json import AppApiError, Failure
from .ollama_api import FIRST_COPYING_CREATE, OllamaApi, Version, url_from_env
from .ollama_blobs import BlobState, blob_state, link_blob, remove_blob

log = logging.getLogger(__name__)
MARKERS = ("blobs", "manifests")


def _is_projector(name: str) -> bool:
    return name.lower().endswith(".gguf") and "mmproj" in Path(name).name.lower()


@dataclass(frozen=True)
class ModelLayers:
    """What a manifest of one library model holds, read from its metadata.json."""

    name: fmt.OllamaName
    fallback: fmt.OllamaName
    family: str
    file_type: str
    layers: tuple[fmt.Layer, ...]

    @property
    def model_digest(self) -> str:
        return self.layers[0].digest


class OllamaAdapter:
    kind = AppKind.OLLAMA

    def __init__(self, env: AdapterEnv) -> None:
        self.env = env

    # -- discovery and planning -------------------------------------------------------------
    def find_installs(self, app: AppConfig) -> list[AppInstall]:
        url = app.url or url_from_env(os.environ.get("OLLAMA_HOST"))
        return [AppInstall(root, AppKind.OLLAMA, app.link, tuple(app.mapping.items()), url)
                for root in app.roots() if is_dir(root) and markers_present(root, MARKERS)]

    def plan(self, install: AppInstall, model: LibraryModel) -> tuple[Placement, ...]:
        if model.format != "gguf" or model.model_type != "llm" or model.primary_file is None:
            return ()
        primary = next((f for f in model.files if f.name == model.primary_file), None)
        if primary is None:
            return ()
        name, _ = fmt.derive_name(model.cleaned_name, primary.name, primary.sha256)
        files = [primary, *(f for f in model.files if f is not primary and _is_projector(f.name))]
        blobs = tuple(Placement(install.root, model.model_id, f.path,
                                fmt.blob_path(install.root, fmt.digest_of(f.sha256)), PlacementMethod.BLOB,
                                str(name)) for f in files)
        manifest = Placement(install.root, model.model_id, primary.path, fmt.manifest_path(install.root, name),
                             PlacementMethod.MANIFEST, str(name))
        return (*blobs, manifest)

    # -- apply ---------------------------------------------------------------------------------
    def apply(self, install: AppInstall, placement: Placement) -> Applied:
        try:
            if placement.method is PlacementMethod.BLOB:
                return self._apply_blob(install, placement)
            return self._apply_manifest(install, placement)
        except (OSError, MetadataError, fmt.ManifestError) as e:
            detail = f"{e.strerror} ({e.filename})" if isinstance(e, OSError) and e.strerror else str(e)
            return Applied(placement, ApplyStatus.ERROR, detail=f"Ollama {placement.key}: {detail}")

    def _apply_blob(self, install: AppInstall, placement: Placement) -> Applied:
        assert placement.target is not None
        state = blob_state(placement.target, placement.source)
        if state is BlobState.FOREIGN:
            return Applied(placement, ApplyStatus.CLASH, detail=(
                f"{placement.target} is Ollama's own copy of these bytes (same sha256); the manifest uses it"))
        if state is BlobState.OURS:
            record = self._record(install, placement, link_kind_of(placement.target))
            return Applied(placement, ApplyStatus.PRESENT, record)
        kind = link_blob(placement.target, placement.source, install.link)
        return Applied(placement, ApplyStatus.CREATED, self._record(install, placement, kind))

    def _apply_manifest(self, install: AppInstall, placement: Placement) -> Applied:
        layers = model_layers(placement.source)
        for layer in layers.layers:
            if not fmt.blob_path(install.root, layer.digest).exists():
                return Applied(placement, ApplyStatus.ERROR, detail=f"Ollama {layers.name}: blob {layer.digest} "
                               "is missing; sync the model again to link it first")
        chosen, present = self._free_name(install.root, layers)
        if chosen is None:
            return Applied(placement, ApplyStatus.CLASH, detail=(
                f"Ollama names {layers.name} and {layers.fallback} are taken by other models"))
        done = replace_target(placement, install.root, chosen)
        if present:
            return Applied(done, ApplyStatus.PRESENT, self._record(install, done, LinkKind.NONE))
        problem = self._register(install, chosen, layers)
        if problem:
            return Applied(done, ApplyStatus.ERROR, detail=problem)
        return Applied(done, ApplyStatus.CREATED, self._record(install, done, LinkKind.NONE))

    def _free_name(self, models: Path, layers: ModelLayers) -> tuple[fmt.OllamaName | None, bool]:
        """The first of name / fallback that is free or already ours, and whether it is ours."""
        for name in (layers.name, layers.fallback):
            path = fmt.existing_manifest(models, name)
            if path is None:
                return name, False
            with contextlib.suppress(OSError, fmt.ManifestError):
                found = fmt.read_manifest(path).layer(fmt.MODEL_MEDIA_TYPE)
                if found is not None and found.digest == layers.model_digest:
                    return name, True
        return None, False

    def _register(self, install: AppInstall, name: fmt.OllamaName, layers: ModelLayers) -> str:
        """Register through the server when it answers (and would not copy), else on disk; "" or a problem."""
        api = OllamaApi(install.url, self.env.timeout_seconds)
        version = self._server_version(api)
        if version is not None:
            try:
                if not all(api.has_blob(layer.digest) for layer in layers.layers):
                    return (f"Ollama at {install.url} does not see {install.root / 'blobs'}: it serves another "
                            "models folder; set this app's root to its OLLAMA_MODELS (the systemd service uses "
                            "/usr/share/ollama/.ollama/models)")
                if version < FIRST_COPYING_CREATE:
                    api.create(str(name), {layer.source_name: layer.digest for layer in layers.layers})
                    if _manifest_model_digest(install.root, name) == layers.model_digest:
                        return ""
                    log.warning("Ollama %s: the server's create did not write the manifest; writing it", name)
            except AppApiError as e:
                log.warning("%s; writing the manifest of %s on disk instead", e, name)
                version = None
        write_manifest(install.root, name, layers)
        if version is not None:
            self._confirm_listed(api, name)
        return ""

    def _server_version(self, api: OllamaApi) -> Version | None:
        try:
            return api.version()
        except AppApiError as e:
            if e.failure is not Failure.UNAVAILABLE:
                log.warning("%s; writing manifests on disk", e)
            return None

    def _confirm_listed(self, api: OllamaApi, name: fmt.OllamaName) -> None:
        try:
            if str(name) not in api.names():
                log.warning("Ollama at %s does not list %s after its manifest was written", api.http.url, name)
        except AppApiError as e:
            log.warning("%s (could not confirm %s is listed)", e, name)

    def _record(self, install: AppInstall, placement: Placement, kind: LinkKind) -> LinkRecord:
        assert placement.target is not None
        source = placement.source.relative_to(self.env.library_root).as_posix()
        external = os.stat(placement.target.parent).st_dev != os.stat(placement.source).st_dev
        return LinkRecord(str(install.root), placement.registry_target, placement.model_id, source, kind, external,
                          placement.method, placement.key)

    # -- undo, health --------------------------------------------------------------------------
    def undo(self, install: AppInstall, record: LinkRecord) -> None:
        source = self.env.library_root / record.source
        if record.method is PlacementMethod.BLOB:
            digest = fmt.digest_of(Path(record.target).name.removeprefix("sha256-"))
            if digest not in fmt.referenced_digests(install.root):
                remove_blob(record.target_path, source)
            return
        remove_manifest(install.root, record.target_path, source)

    def check(self, install: AppInstall, record: LinkRecord) -> Finding | None:
        source = self.env.library_root / record.source
        path = str(record.target_path)
        if not source.exists():
            return Finding(Problem.BROKEN, path, f"Ollama {record.key}: the library file {source} is gone",
                           "remove the Ollama entry", record)
        if record.method is PlacementMethod.BLOB:
            state = blob_state(record.target_path, source)
            if state is BlobState.OURS:
                return None
            if state is BlobState.FOREIGN:
                return Finding(Problem.MISMATCHED, path, f"Ollama {record.key}: another file took the blob name",
                               None, record)
            return Finding(Problem.BROKEN, path, f"Ollama {record.key}: the blob link is {state.value}",
                           "link the blob again", record)
        return self._check_manifest(install, record, source)

    def _check_manifest(self, install: AppInstall, record: LinkRecord, source: Path) -> Finding | None:
        path = str(record.target_path)
        try:
            manifest = fmt.read_manifest(record.target_path)
        except (OSError, fmt.ManifestError):
            return Finding(Problem.BROKEN, path, f"Ollama {record.key}: the manifest is gone or unreadable",
                           "write the manifest again", record)
        model = manifest.layer(fmt.MODEL_MEDIA_TYPE)
        if model is None or not _is_source_digest(install.root, model.digest, source):
            return Finding(Problem.MISMATCHED, path, f"Ollama {record.key} now names another model "
                           "(re-created in Ollama?)", None, record)
        for layer in (*manifest.layers, manifest.config):
            if not fmt.blob_path(install.root, layer.digest).exists():
                return Finding(Problem.BROKEN, path, f"Ollama {record.key}: blob {layer.digest} is missing or "
                               "broken; `ollama run` fails", "link the blobs and write the manifest again", record)
        return None

    def fix(self, install: AppInstall, finding: Finding) -> bool:
        record = finding.record
        if record is None or finding.fix is None:
            return True
        source = self.env.library_root / record.source
        if not source.exists():
            self.undo(install, record)
            return False
        if record.method is PlacementMethod.BLOB:
            if blob_state(record.target_path, source) in (BlobState.ABSENT, BlobState.DANGLING):
                link_blob(record.target_path, source, install.link)
            return True
        layers = model_layers(source)
        folder = _model_folder(source)
        for layer in layers.layers:
            blob = fmt.blob_path(install.root, layer.digest)
            if blob_state(blob, folder / layer.source_name) in (BlobState.ABSENT, BlobState.DANGLING):
                link_blob(blob, folder / layer.source_name, install.link)
        write_manifest(install.root, fmt.OllamaName.parse(record.key) if record.key else layers.name, layers)
        return True

    def scan_folders(self, install: AppInstall) -> tuple[Path, ...]:
        # Not blobs/: a link there that the registry forgot may be used by the user's `ollama cp`
        # of a model; removing it as an orphan would break that model.
        return ()


def replace_target(placement: Placement, models: Path, name: fmt.OllamaName) -> Placement:
    if placement.key == str(name):
        return placement
    return Placement(placement.install_root, placement.model_id, placement.source, fmt.manifest_path(models, name),
                     placement.method, str(name))


def model_layers(primary: Path) -> ModelLayers:
    """The layers of a library GGUF's manifest, from the metadata.json of its model folder."""
    meta = _metadata_for(primary)
    folder = _model_folder(primary)
    rel = primary.relative_to(folder).as_posix()
    by_name = {f.name: f for f in meta.files}
    if rel not in by_name:
        raise MetadataError(folder / METADATA_NAME, f"does not list {rel}")
    main = by_name[rel]
    name, fallback = fmt.derive_name(meta.cleaned_name, main.name, main.sha256)
    layers = [fmt.Layer(fmt.MODEL_MEDIA_TYPE, fmt.digest_of(main.sha256), main.size, main.name)]
    layers += [fmt.Layer(fmt.PROJECTOR_MEDIA_TYPE, fmt.digest_of(f.sha256), f.size, f.name)
               for f in meta.files if f is not main and _is_projector(f.name)]
    return ModelLayers(name, fallback, meta.family, (fmt.quant_tag(main.name) or "").upper(), tuple(layers))


def _model_folder(primary: Path) -> Path:
    for folder in primary.parents:
        if (folder / METADATA_NAME).is_file():
            return folder
    raise MetadataError(primary.parent / METADATA_NAME, "not found beside the library file")


def _metadata_for(primary: Path) -> ModelMetadata:
    return read_metadata(_model_folder(primary) / METADATA_NAME)


def write_manifest(models: Path, name: fmt.OllamaName, layers: ModelLayers) -> Path:
    """The config blob, then the manifest that references it, each written atomically: a crash
    between them leaves a config blob that Ollama's prune deletes, never a manifest without it."""
    config = fmt.config_blob(layers.family, layers.file_type)
    config_layer = fmt.config_layer(config)
    blob = fmt.blob_path(models, config_layer.digest)
    if not blob.exists():
        blob.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(blob, config)
    path = fmt.manifest_path(models, name)
    _make_dirs(path.parent, models)
    atomic_write_bytes(path, fmt.Manifest(config_layer, layers.layers).to_bytes())
    return path


def _make_dirs(folder: Path, models: Path) -> None:
    missing = [p for p in (folder, *folder.parents) if p.is_relative_to(models) and not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for made in reversed(missing):
        fsync_dir(made.parent)


def remove_manifest(models: Path, path: Path, source: Path) -> None:
    """Remove our manifest (only while its model layer is still source's bytes), then the blobs no
    other manifest references: its config blob, and blob links that are ours."""
    try:
        manifest = fmt.read_manifest(path)
    except FileNotFoundError:
        return
    except (OSError, fmt.ManifestError):
        log.warning("Ollama: %s is not a manifest modelshelf wrote; left alone", path)
        return
    model = manifest.layer(fmt.MODEL_MEDIA_TYPE)
    if model is None or not _is_source_digest(models, model.digest, source):
        log.warning("Ollama: %s now holds another model; left alone", path)
        return
    path.unlink()
    fsync_dir(path.parent)
    _prune_empty(path.parent, models / "manifests")
    still = fmt.referenced_digests(models)
    folder = _model_folder_or(source)
    for layer in (*manifest.layers, manifest.config):
        if layer.digest in still:
            continue
        blob = fmt.blob_path(models, layer.digest)
        if layer is manifest.config:
            with contextlib.suppress(FileNotFoundError):
                blob.unlink()
        elif layer.source_name:
            remove_blob(blob, folder / layer.source_name)


def _is_source_digest(models: Path, digest: str, source: Path) -> bool:
    """digest names source's bytes: by its metadata.json, or (metadata gone) by the blob resolving to it."""
    try:
        return model_layers(source).model_digest == digest
    except (OSError, MetadataError):
        return blob_state(fmt.blob_path(models, digest), source) is BlobState.OURS


def _model_folder_or(source: Path) -> Path:
    try:
        return _model_folder(source)
    except MetadataError:
        return source.parent


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove the folders a removed manifest leaves empty (manifest.go Remove -> PruneDirectory)."""
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _manifest_model_digest(models: Path, name: fmt.OllamaName) -> str | None:
    try:
        layer = fmt.read_manifest(fmt.manifest_path(models, name)).layer(fmt.MODEL_MEDIA_TYPE)
    except (OSError, fmt.ManifestError):
        return None
    return layer.digest if layer else None


def build(env: AdapterEnv) -> OllamaAdapter:
    return OllamaAdapter(env)
