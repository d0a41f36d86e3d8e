"""Any other app: the user's own model_type -> folder mapping from the config, relative to the
root (the folder itself). Example: mapping = { checkpoint = ["Stable-diffusion"], lora = ["Lora"] }.
"""

from __future__ import annotations

from pathlib import Path

from .base import AdapterEnv, AppKind
from .linkbase import LinkAdapter


class FoldersAdapter(LinkAdapter):
    kind = AppKind.FOLDERS
    scan = ("",)

    def recognises(self, root: Path) -> bool:
        return True


def build(env: AdapterEnv) -> FoldersAdapter:
    return FoldersAdapter(env)
