"""A match's preview picture saved beside the model as `<model file stem>.preview.<ext>`, the name
A1111, Forge, SD.Next and SwarmUI look for.

Untrusted bytes: downloaded with a timeout and a size cap (16 MiB), kept only when their magic
bytes say PNG, JPEG or WebP (a video or an HTML page is rejected), written atomically (temp file,
fsync, rename, fsync of the folder) so the preview is either the old one or complete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import httpx2

from ..fs.durable import atomic_write_bytes
from ..index.writer import LibraryWriter
from ..library.metadata import ModelMetadata
from . import merge
from .civitai_records import CivitaiImage
from .errors import PreviewRejectedError, ProviderAnswerError, ProviderUnavailableError
from .http import exchange, make_client

log = logging.getLogger(__name__)
MAX_PREVIEW_BYTES = 16 << 20
PREVIEW_SUFFIX = ".preview"

Download = Callable[[str, int], bytes]      # (url, max_bytes) -> the body, or raises PreviewRejectedError


def choose_preview(images: Sequence[CivitaiImage], max_level: int) -> CivitaiImage | None:
    """The first still image whose NSFW level is known and at most max_level (videos skipped)."""
    return next((i for i in images if i.type == "image" and 0 < i.nsfw_level <= max_level), None)


def image_kind(data: bytes) -> str | None:
    """The file extension the magic bytes prove, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _describe(data: bytes) -> str:
    if data[4:8] == b"ftyp" or data.startswith(b"\x1a\x45\xdf\xa3"):
        return "a video (MP4/WebM), not an image"
    if data.lstrip()[:1] == b"<":
        return "an HTML/XML page, not an image"
    return f"not a PNG, JPEG or WebP image (starts {data[:8]!r})"


def preview_path(folder: Path, model_file: str) -> Path:
    """Where the preview of folder/model_file goes, without its extension decided yet."""
    return folder / f"{PurePosixPath(model_file).stem}{PREVIEW_SUFFIX}"


def fetch_preview(url: str, download: Download, max_bytes: int = MAX_PREVIEW_BYTES,
                  folder: Path | None = None) -> tuple[bytes, str]:
    """The image's bytes and extension, checked; PreviewRejectedError (naming folder) otherwise.
    Network only: call it without holding the library writer."""
    try:
        data = download(url, max_bytes)
    except PreviewRejectedError as e:
        raise PreviewRejectedError(url, e.reason, folder) from None
    if len(data) > max_bytes:
        raise PreviewRejectedError(url, f"{len(data)} bytes is over the {max_bytes} byte cap", folder)
    kind = image_kind(data)
    if kind is None:
        raise PreviewRejectedError(url, _describe(data), folder)
    return data, kind


def write_preview(folder: Path, model_file: str, data: bytes, kind: str) -> Path:
    """Write checked bytes as folder/<model_file stem>.preview.<kind>, atomically."""
    base = preview_path(folder, model_file)
    target = base.with_name(f"{base.name}.{kind}")
    atomic_write_bytes(target, data)
    return target


def save_preview(folder: Path, model_file: str, url: str, download: Download,
                 max_bytes: int = MAX_PREVIEW_BYTES) -> Path:
    """Download url and save it as folder/<model_file stem>.preview.<png|jpg|webp>; the saved path.
    Raises PreviewRejectedError (nothing written) for a download failure, an oversized body or
    bytes that are not an image."""
    data, kind = fetch_preview(url, download, max_bytes, folder)
    return write_preview(folder, model_file, data, kind)


class PreviewDownloader:
    """The HTTP side of save_preview: one strict GET, offline-aware. Call it as download(url, cap)."""

    def __init__(self, timeout: float = 30.0, offline: bool = False) -> None:
        self.offline = offline
        self._http: httpx2.Client = make_client(timeout)

    def __call__(self, url: str, max_bytes: int) -> bytes:
        if self.offline:
            raise PreviewRejectedError(url, "offline mode")
        try:
            answer = exchange(self._http, "preview", "GET", url, max_bytes)
        except ProviderAnswerError as e:
            raise PreviewRejectedError(url, e.reason) from None
        except ProviderUnavailableError as e:
            raise PreviewRejectedError(url, f"download failed: {e.reason}") from None
        if answer.status != 200:
            raise PreviewRejectedError(url, f"HTTP {answer.status}")
        return answer.body

    def close(self) -> None:
        self._http.close()


class PreviewSaver:
    """Saves a proven CivitAI match's preview beside its model, through the library writer:
    the download runs without the writer's lock, the file and metadata.json's `preview` are
    written under it. A rejected picture is one warning line; the model is left as it was."""

    def __init__(self, writer: LibraryWriter, download: Download, max_level: int,
                 max_bytes: int = MAX_PREVIEW_BYTES) -> None:
        self.writer, self.download, self.max_level, self.max_bytes = writer, download, max_level, max_bytes

    def save_for(self, meta: ModelMetadata) -> Path | None:
        """The saved preview's path, or None (no match with a picture, already saved, or rejected)."""
        model_file = meta.files[0].name if len(meta.files) == 1 else None      # folder models: no preview
        image = self._image(meta)
        row = self.writer.index.get(meta.model_id)
        if model_file is None or image is None or row is None:
            return None
        folder = self.writer.library.folder(row.path)
        if meta.preview and (folder / meta.preview).is_file():
            return None
        try:
            data, kind = fetch_preview(image.url, self.download, self.max_bytes, folder)
        except PreviewRejectedError as e:
            log.warning("%s; the model keeps its metadata, no preview saved", e)
            return None
        with self.writer.exclusive():
            row = self.writer.index.get(meta.model_id)
            if row is None:                            # deleted while the picture downloaded
                return None
            saved = write_preview(self.writer.library.folder(row.path), model_file, data, kind)
            self.writer.update(meta.model_id, lambda fresh: fresh.replace(preview=saved.name))
        return saved

    def close(self) -> None:
        closer = getattr(self.download, "close", None)
        if closer is not None:
            closer()

    def _image(self, meta: ModelMetadata) -> CivitaiImage | None:
        state = merge.from_dict(meta.identification).get("civitai")
        if state is None or state.match is None or not state.match.proven:
            return None
        images = [CivitaiImage(**i) for i in state.match.record.get("images", ())]
        return choose_preview(images, self.max_level)
