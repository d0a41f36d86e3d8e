"""`modelshelf show` and `list` load the merge rule and the CLI, not the Hub's HTTP client
(huggingface_hub takes a good part of a second to import on these machines)."""

from __future__ import annotations

import subprocess
import sys


def test_show_does_not_import_the_hub_client() -> None:
    code = ("import sys, modelshelf.cli.commands, modelshelf.identify.view, modelshelf.shelf; "
            "print(sorted(m for m in ('huggingface_hub', 'httpx2', 'tomlkit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
