"""LM Studio: <root>/<publisher>/<repo>/<file>.gguf, root being its models folder
(default ~/.lmstudio/models).

Layout from LM Studio's docs (lmstudio.ai/docs, "Import models" / "Bring your own model": LM Studio
lists models in the models directory as publisher/repository/file.gguf, and a vision model's
mmproj file sits in the same repository folder). publisher/repo comes from the model's Hub match
(metadata.json hub.repo_id), else from the file's own header name (GGUF general.name), else
local/<cleaned name>. A vision projector (mmproj) from the same Hub repo lands beside its model.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import AdapterEnv, AppInstall, AppKind, LibraryModel, LinkRecord, Placement, PlacementMethod
from .linkbase import LinkAdapter

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
LLM_TYPES = ("llm", "mmproj")


def clean_part(text: str) -> str:
    """One path component LM Studio shows as is: no separators, no leading dot."""
    return _UNSAFE.sub("-", text.strip()).strip("-.") or "model"


def publisher_repo(model: LibraryModel) -> tuple[str, str]:
    if model.hub_repo_id and model.hub_repo_id.count("/") == 1:
        publisher, repo = model.hub_repo_id.split("/")
        return clean_part(publisher), clean_part(repo)
    if model.header_name:
        if model.header_name.count("/") == 1:
            publisher, repo = model.header_name.split("/")
            return clean_part(publisher), clean_part(repo)
        return "local", clean_part(model.header_name)
    return "local", clean_part(model.cleaned_name)


class LMStudioAdapter(LinkAdapter):
    kind = AppKind.LMSTUDIO
    scan = ("",)

    def recognises(self, root: Path) -> bool:
        return True                    # the root is LM Studio's models folder itself

    def plan(self, install: AppInstall, model: LibraryModel) -> tuple[Placement, ...]:
        if model.model_type not in LLM_TYPES or model.format != "gguf" or not model.primary_file:
            return ()
        publisher, repo = publisher_repo(model)
        target = install.root / publisher / repo / model.primary_file
        return (Placement(install.root, model.model_id, model.folder / model.primary_file, target,
                          PlacementMethod.LINK),)

    def keep(self, install: AppInstall, record: LinkRecord) -> Path:
        return install.root            # emptied repo and publisher folders go too


def build(env: AdapterEnv) -> LMStudioAdapter:
    return LMStudioAdapter(env)
