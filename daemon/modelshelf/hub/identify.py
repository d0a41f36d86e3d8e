"""Which Hub repo holds this model? Find candidates by name, prove one by SHA-256.

The Hub has no search by hash: search models by the cleaned file name (or the name the file's
own header gives), keep repos whose files include that name, and check the two best by the
SHA-256 and size of their LFS files. At most 4 calls: 2 searches, 2 repo file lists.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..library.metadata import ModelMetadata, utc_now
from .client import Candidate, HubClient, RepoInfo
from .names import clean_name

VERIFY_TOP = 2


@dataclass(frozen=True)
class HubMatch:
    repo_id: str
    revision: str
    filename: str | None
    method: str              # "sha256" (proven) or "filename" (a name-only guess)
    confidence: float
    reason: str
    official_name: str | None
    tags: tuple[str, ...]
    pipeline_tag: str | None
    license: str | None
    base_model: str | list[str] | None
    download_url: str | None
    matched_at: str


def _score(candidate: Candidate, names: set[str], cleaned: str) -> int:
    basenames = {f.rsplit("/", 1)[-1] for f in candidate.files}
    if names & basenames:
        return 2
    if any(clean_name(b).lower() == cleaned.lower() for b in basenames):
        return 1
    return 0


def _queries(meta: ModelMetadata) -> list[str]:
    """The cleaned file name, then the name the file's header gives (or, lacking one, the file
    name spelled with dashes: repo ids favour them). Two searches at most."""
    first = clean_name(meta.primary_file or meta.cleaned_name)
    hint = meta.details.get("general.name") or meta.details.get("modelspec.title")
    second = clean_name(hint) if hint else first.replace("_", "-")
    return [first] if second.lower() == first.lower() else [first, second]


def identify(meta: ModelMetadata, client: HubClient) -> HubMatch | None:
    """A HubMatch (proven by SHA-256, or a name-only guess), or None if nothing fits."""
    names = {f.name.rsplit("/", 1)[-1] for f in meta.files}
    ranked: list[Candidate] = []
    for query in _queries(meta):
        found = [c for c in client.search(query) if _score(c, names, query) > 0]
        ranked = sorted(found, key=lambda c: (-_score(c, names, query), -c.downloads))
        if ranked:
            break
    verified: list[RepoInfo] = []
    for candidate in ranked[:VERIFY_TOP]:
        info = client.repo(candidate.repo_id)
        if info is None:
            continue
        verified.append(info)
        match = _by_hash(meta, info, client.settings.endpoint)
        if match is not None:
            return match
    if not ranked:
        return None
    best = verified[0] if verified else None
    return _name_only(meta, ranked[0], best, client.settings.endpoint)


def _by_hash(meta: ModelMetadata, info: RepoInfo, endpoint: str) -> HubMatch | None:
    ours = {f.sha256: f for f in meta.files}
    largest = max(meta.files, key=lambda f: f.size)
    for rf in info.files:
        mine = ours.get(rf.sha256 or "")
        if mine is not None and mine.size == rf.size and (len(meta.files) == 1 or mine == largest):
            return _match(info, rf.name, "sha256", 1.0, f"SHA-256 and size of {rf.name} match", endpoint)
    return None


def _name_only(meta: ModelMetadata, candidate: Candidate, info: RepoInfo | None, endpoint: str) -> HubMatch:
    filename = next((f for f in candidate.files if f.rsplit("/", 1)[-1] == (meta.primary_file or "")), None)
    why = (f"{candidate.repo_id} has a file named {filename}, but its SHA-256 differs or was not checked"
           if filename else f"{candidate.repo_id} has files named like this model; not verified by hash")
    if info is None:
        info = RepoInfo(candidate.repo_id, "main", ())
    return _match(info, filename, "filename", 0.5 if filename else 0.3, why, endpoint)


def _match(info: RepoInfo, filename: str | None, method: str, confidence: float, reason: str,
           endpoint: str) -> HubMatch:
    url = f"{endpoint}/{info.repo_id}/resolve/{info.revision}/{filename}" if filename else None
    return HubMatch(info.repo_id, info.revision, filename, method, confidence, reason,
                    info.repo_id.split("/")[-1], info.tags, info.pipeline_tag, info.license, info.base_model,
                    url, utc_now())
