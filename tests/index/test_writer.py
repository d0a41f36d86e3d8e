"""One write owner: a Hub lookup that finishes while a rebuild scans is never lost by the rebuild."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from modelshelf import actions
from modelshelf.identify import HubProvider
from modelshelf.identify.worker import LookupOutcome, LookupWorker
from modelshelf.library import read_metadata
from modelshelf.shelf import Shelf

from ..helpers import wait_for
from ..hub.fake_hub import FakeHub, FakeRepo
from ..hub.test_hub import imported, make_client, repo_file
from ..models import write_safetensors


def test_a_lookup_during_a_rebuild_reaches_the_index(shelf: Shelf, tmp_path: Path) -> None:
    """Before the writer, the lookup wrote metadata.json and its row while the rebuild was between
    its scan and its swap: the swap put back the row it had scanned, pending and unmatched."""
    src = write_safetensors(tmp_path / "detail-tweaker-xl.safetensors", "lora_sdxl")
    model_id = imported(shelf, src)                       # lora/… : scanned before zz/…
    # A model folder whose metadata.json is a FIFO: the scan blocks on it, after it read the lora.
    held = shelf.library.root / "zz" / "unknown" / "held"
    held.mkdir(parents=True)
    os.mkfifo(held / "metadata.json")
    hub = FakeHub()
    hub.add(FakeRepo("someone/detail-tweaker-xl", {src.name: repo_file(src)}))
    client = make_client(hub, tmp_path)
    outcomes: list[LookupOutcome] = []
    rebuild = threading.Thread(target=actions.rebuild, args=(shelf,))
    worker = LookupWorker([HubProvider(client)], shelf.writer)
    lookup = threading.Thread(target=lambda: outcomes.append(worker.lookup(model_id)))
    try:
        rebuild.start()
        fifo = os.open(held / "metadata.json", os.O_WRONLY)   # returns once the scan opened it
        lookup.start()
        wait_for(lambda: hub.api_calls() >= 2, 10, "the lookup's calls to the Hub")
        # Its network work is done: what is left is the write, which the rebuild's hold on the writer
        # must keep waiting (the old code wrote here, in milliseconds, and the thread ended).
        lookup.join(timeout=2)
        assert lookup.is_alive(), "the lookup wrote while the rebuild held the writer"
        os.write(fifo, b"{}")
        os.close(fifo)
        rebuild.join()
        lookup.join()
    finally:
        client.cache.close()
        hub.stop()
    assert outcomes == [LookupOutcome.MATCHED]
    row = shelf.index.get(model_id)
    meta = read_metadata(shelf.library.folder(row.path) / "metadata.json")
    assert meta.hub["repo_id"] == "someone/detail-tweaker-xl" and not meta.pending_online_lookup
    assert row.hub_repo_id == "someone/detail-tweaker-xl"
    assert model_id not in shelf.index.pending_ids()
