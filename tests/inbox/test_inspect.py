"""What inside a dropped folder means it is still being written."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelshelf.inbox.ignore import IgnoreRules
from modelshelf.inbox.inspect import signature_of


@pytest.mark.parametrize("name,partial", [
    (".gitattributes", False),                  # every Hugging Face folder has one
    (".DS_Store", False),
    ("model.safetensors.part", True),           # browsers
    ("model.safetensors.incomplete", True),     # huggingface-cli
    (".model.safetensors.Ab12Cd", True),        # rsync's temp name
])
def test_which_files_mean_a_folder_is_still_arriving(tmp_path: Path, name: str, partial: bool) -> None:
    folder = tmp_path / "pipe"
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    (folder / name).write_text("x")
    assert signature_of(folder, IgnoreRules()).partial_files == int(partial)
