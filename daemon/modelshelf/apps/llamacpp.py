"""llama.cpp: a flat folder of links for `llama-server --models-dir <root>`.

Layout from ggml-org/llama.cpp tools/server/README.md (router mode: --models-dir is scanned for
GGUF files; single-file models sit directly in the folder, multimodal and multi-shard models in
subfolders of their own). modelshelf links each single-file GGUF LLM flat; vision projectors
(mmproj) are not linked here (a projector alone in the folder would be listed as a model).
"""

from __future__ import annotations

from pathlib import Path

from .base import AdapterEnv, AppInstall, AppKind, LibraryModel, LinkRecord, Placement, PlacementMethod
from .linkbase import LinkAdapter


class LlamaCppAdapter(LinkAdapter):
    kind = AppKind.LLAMACPP
    scan = ("",)

    def recognises(self, root: Path) -> bool:
        return True                    # the root is the models folder itself

    def plan(self, install: AppInstall, model: LibraryModel) -> tuple[Placement, ...]:
        if model.model_type != "llm" or model.format != "gguf" or not model.primary_file:
            return ()
        return (Placement(install.root, model.model_id, model.folder / model.primary_file,
                          install.root / model.primary_file, PlacementMethod.LINK),)

    def keep(self, install: AppInstall, record: LinkRecord) -> Path:
        return install.root


def build(env: AdapterEnv) -> LlamaCppAdapter:
    return LlamaCppAdapter(env)
