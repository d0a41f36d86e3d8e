"""The merge rule: what a provider's answer changes in a model's recorded identification.

Pure functions over frozen values (no I/O), so the rule is tested on its own:
- each provider's latest answer is recorded under its own name (`show` prints who said what);
- a proven match (SHA-256/BLAKE3) is never replaced by a name guess, a not-found or an error;
- a provider that answers not-found (or gone) for a model it had proven keeps that record,
  marked gone since then: the model was deleted or unpublished upstream;
- the best match across providers: proven beats a name guess, then live beats gone, then the
  configured provider order, then confidence;
- a proven match's base model confirms or fills the family; a local family that disagrees is
  kept and the disagreement recorded, never overwritten silently.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .provider import Answer, GoneUpstream, LookupFailed, Method, NotFound, ProviderMatch

UNKNOWN_FAMILY = "unknown"


class Status(enum.StrEnum):
    MATCHED = "matched"
    NOT_FOUND = "not_found"
    GONE = "gone"            # proven once, now not found upstream: the old record is kept
    FAILED = "failed"        # never answered yet (every attempt failed)


@dataclass(frozen=True)
class ProviderState:
    """What one provider said about one model, as recorded."""
    provider: str
    status: Status
    checked_at: str
    match: ProviderMatch | None = None       # kept when gone, and when a later lookup failed
    gone_since: str | None = None
    last_error: str | None = None
    note: str = ""                           # e.g. why a weaker answer was not recorded


@dataclass(frozen=True)
class Identification:
    """Every provider's recorded answer for one model (metadata.json "identification")."""
    providers: tuple[ProviderState, ...] = ()

    def get(self, provider: str) -> ProviderState | None:
        return next((p for p in self.providers if p.provider == provider), None)

    def with_state(self, state: ProviderState) -> Identification:
        others = tuple(p for p in self.providers if p.provider != state.provider)
        return Identification(tuple(sorted((*others, state), key=lambda p: p.provider)))


@dataclass(frozen=True)
class FamilyDecision:
    family: str
    source: str                      # "local", "civitai" (filled), "local+civitai" (confirmed)
    conflict: str | None = None      # a provider that disagrees with the local family, and what it said


def record(ident: Identification, answer: Answer) -> Identification:
    """The identification after one provider's answer (see the module docstring for the rule)."""
    before = ident.get(answer.provider)
    return ident.with_state(_next_state(before, answer))


def _next_state(before: ProviderState | None, answer: Answer) -> ProviderState:
    kept = before.match if before else None
    proven_before = kept is not None and kept.proven
    when = answer.fetched_at
    if isinstance(answer, ProviderMatch):
        if proven_before and not answer.proven:
            return dataclasses.replace(before, checked_at=when, last_error=None,  # type: ignore[arg-type]
                                       note=f"a {answer.method} match ({answer.ref}) was not recorded: "
                                            f"weaker than the proven one")
        return ProviderState(answer.provider, Status.MATCHED, when, answer)
    if isinstance(answer, LookupFailed):
        if before is None:
            return ProviderState(answer.provider, Status.FAILED, when, last_error=answer.reason)
        return dataclasses.replace(before, last_error=answer.reason)
    if proven_before or isinstance(answer, GoneUpstream) and kept is not None:
        since = before.gone_since if before and before.status is Status.GONE else when  # type: ignore[union-attr]
        return ProviderState(answer.provider, Status.GONE, when, kept, gone_since=since,
                             note=answer.reason or "no longer listed upstream")
    assert isinstance(answer, NotFound | GoneUpstream)
    return ProviderState(answer.provider, Status.NOT_FOUND, when, note=answer.reason)


def best_match(ident: Identification, order: Sequence[str] = ()) -> ProviderMatch | None:
    """The match to show and to take names from: proven first, live before gone, then the
    configured provider order, then confidence."""
    def rank(state: ProviderState) -> tuple:
        m = state.match
        position = order.index(state.provider) if state.provider in order else len(order)
        return (not m.proven, state.status is Status.GONE, position, -m.confidence)  # type: ignore[union-attr]
    candidates = [p for p in ident.providers if p.match is not None]
    return min(candidates, key=rank).match if candidates else None


def decide_family(local_family: str, ident: Identification, order: Sequence[str] = ()) -> FamilyDecision:
    """The family to record: the local one, confirmed or (when unknown) filled by proven matches."""
    said = [(p.provider, p.match.family, p.match.base_model) for p in _proven(ident, order)
            if p.match and p.match.family]
    if not said:
        return FamilyDecision(local_family, "local")
    if not local_family or local_family == UNKNOWN_FAMILY:
        provider, family, _ = said[0]
        return FamilyDecision(family, provider)                 # type: ignore[arg-type]
    agree = [p for p, f, _ in said if f == local_family]
    disagree = [f"{p} says {f} (base model {b})" for p, f, b in said if f != local_family]
    source = "+".join(["local", *agree])
    return FamilyDecision(local_family, source, "; ".join(disagree) or None)


def _proven(ident: Identification, order: Sequence[str]) -> list[ProviderState]:
    states = [p for p in ident.providers if p.match is not None and p.match.proven]
    return sorted(states, key=lambda p: order.index(p.provider) if p.provider in order else len(order))


# -- JSON (metadata.json) --------------------------------------------------------------------------
def to_dict(ident: Identification) -> dict[str, Any]:
    return {p.provider: _state_dict(p) for p in ident.providers}


def _state_dict(state: ProviderState) -> dict[str, Any]:
    data = {k: v for k, v in dataclasses.asdict(state).items() if k not in ("provider", "match")}
    data["status"] = str(state.status)
    data["match"] = None if state.match is None else {
        **dataclasses.asdict(state.match), "method": str(state.match.method),
        "trained_words": list(state.match.trained_words), "record": dict(state.match.record)}
    return data


def from_dict(data: Mapping[str, Any] | None) -> Identification:
    """Read what to_dict wrote; a malformed entry raises ValueError (the caller names the file)."""
    if not data:
        return Identification()
    if not isinstance(data, Mapping):
        raise ValueError("identification is not an object")
    states = []
    for provider, raw in data.items():
        match = raw.get("match")
        states.append(ProviderState(
            provider=str(provider), status=Status(raw["status"]), checked_at=str(raw["checked_at"]),
            match=None if match is None else _match_from_dict(match),
            gone_since=raw.get("gone_since"), last_error=raw.get("last_error"), note=str(raw.get("note", ""))))
    return Identification(tuple(sorted(states, key=lambda p: p.provider)))


def _match_from_dict(raw: Mapping[str, Any]) -> ProviderMatch:
    fields = {f.name for f in dataclasses.fields(ProviderMatch)}
    values = {k: v for k, v in raw.items() if k in fields}
    values["method"] = Method(values["method"])
    values["trained_words"] = tuple(values.get("trained_words") or ())
    values["record"] = dict(values.get("record") or {})
    return ProviderMatch(**values)
