"""text-generation-webui (oobabooga): GGUF files as links in user_data/models/, HF-format model
folders as real folders there holding per-file links, vision projectors in user_data/mmproj/.

Folders from modules/shared.py (--model-dir default user_data_dir / 'models') and
modules/utils.py get_available_mmproj (user_data_dir / 'mmproj'). Installs from before the
user_data/ move keep models/ at the root: the first existing folder wins.
"""

from __future__ import annotations

from .base import AdapterEnv, AppKind
from .linkbase import LinkAdapter

TEXTGEN_MAPPING: dict[str, tuple[str, ...]] = {
    "llm": ("user_data/models", "models"),
    "mmproj": ("user_data/mmproj",),
}


class TextGenAdapter(LinkAdapter):
    kind = AppKind.TEXTGEN
    mapping = TEXTGEN_MAPPING
    scan = ("user_data/models", "user_data/mmproj", "models")

    def recognises(self, root) -> bool:
        return (root / "server.py").is_file() and (root / "modules").is_dir()


def build(env: AdapterEnv) -> TextGenAdapter:
    return TextGenAdapter(env)
