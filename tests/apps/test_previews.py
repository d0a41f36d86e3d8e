"""A model's preview picture is linked beside it in the apps that show "<stem>.preview.png" cards
(A1111, Forge, SD.Next, SwarmUI), and only there; a delete takes it away with the model."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from modelshelf import actions
from modelshelf.config import ImportMode
from modelshelf.identify.previews import write_preview
from modelshelf.ingest import ImportJob
from modelshelf.shelf import Shelf

from ..helpers import sha256
from ..models import write_safetensors
from .conftest import app_config, make_install, shelf_config


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_previews_are_linked_where_apps_show_them(tmp_path: Path) -> None:
    roots = {kind: make_install(tmp_path / kind, kind) for kind in ("a1111", "forge", "sdnext", "swarmui", "comfyui")}
    config = shelf_config(tmp_path, tuple(app_config(kind, root) for kind, root in roots.items()))
    with Shelf(config, writer=True) as shelf:
        src = write_safetensors(tmp_path / "detail.safetensors", "lora_sdxl")
        model_id = shelf.importer().run(ImportJob(src, ImportMode.COPY)).model_id
        folder = shelf.library.folder(shelf.index.get(model_id).path)
        actions.sync(shelf)
        saved = write_preview(folder, "detail.safetensors", tiny_png(), "png")   # what a CivitAI match saves
        shelf.writer.update(model_id, lambda meta: meta.replace(preview=saved.name))
        report = actions.sync(shelf, model_id)
        assert not report.problems
        cards = {kind: list(root.rglob("detail.preview.png")) for kind, root in roots.items()}
        assert {kind: len(found) for kind, found in cards.items()} == {
            "a1111": 1, "forge": 1, "sdnext": 1, "swarmui": 1, "comfyui": 0}
        for kind, (card,) in ((k, v) for k, v in cards.items() if v):
            assert card.is_symlink() and sha256(card) == sha256(saved), kind
            assert (card.parent / "detail.safetensors").is_symlink(), kind     # beside its model
        assert actions.health(shelf).report.status == "healthy"
        actions.delete(shelf, model_id)
        assert [p for root in roots.values() for p in root.rglob("detail.*")] == []
