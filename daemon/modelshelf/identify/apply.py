"""What one lookup round writes into a model's metadata (pure: the writer applies it on a fresh read).

- every provider's answer goes through the merge rule into `identification`;
- the model stays pending while a provider it asked could not answer (retried with backoff);
- the official name comes only from a proven match, and only when the file itself gave none;
- the family is confirmed or (when unknown) filled by a proven match's base model, with its source;
- `hub` keeps the Hub's record as before (the index's hub_repo_id comes from it).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from ..library.metadata import ModelMetadata, utc_now
from . import merge
from .provider import Answer, LookupFailed, NotFound, ProviderMatch


class LookupOutcome(enum.StrEnum):
    MATCHED = "matched"          # proven by a hash
    GUESSED = "guessed"          # a name-only match, recorded with its confidence
    NOT_FOUND = "not_found"
    FAILED = "failed"            # no provider could be asked: retried later
    SKIPPED = "skipped"


def outcome_of(answers: Sequence[Answer]) -> LookupOutcome:
    matches = [a for a in answers if isinstance(a, ProviderMatch)]
    if any(m.proven for m in matches):
        return LookupOutcome.MATCHED
    if matches:
        return LookupOutcome.GUESSED
    if answers and all(isinstance(a, LookupFailed) for a in answers):
        return LookupOutcome.FAILED
    return LookupOutcome.NOT_FOUND


def apply_answers(meta: ModelMetadata, answers: Sequence[Answer], order: Sequence[str]) -> ModelMetadata:
    ident = merge.from_dict(meta.identification)
    for answer in answers:
        ident = merge.record(ident, answer)
    changes: dict = {"identification": merge.to_dict(ident), "lookup_attempts": meta.lookup_attempts + 1,
                     "last_lookup_attempt": utc_now(),
                     "pending_online_lookup": any(isinstance(a, LookupFailed) for a in answers)}
    hub = _hub_record(answers)
    if hub is not None:
        changes["hub"] = hub
    best = merge.best_match(ident, order)
    if best is not None and best.proven and best.name and not meta.official_name:
        changes["official_name"] = best.name
    decision = merge.decide_family(meta.family, ident, order)
    changes["family"] = decision.family
    changes["family_source"] = decision.source + (f"; conflict: {decision.conflict}" if decision.conflict else "")
    return meta.replace(**changes)


def _hub_record(answers: Sequence[Answer]) -> dict | None:
    """The legacy `hub` field: the Hub's match record, or "none" when it found nothing."""
    for answer in answers:
        if answer.provider != "hub":
            continue
        if isinstance(answer, ProviderMatch):
            return dict(answer.record)
        if isinstance(answer, NotFound):
            return {"method": "none", "matched_at": answer.fetched_at}
    return None
