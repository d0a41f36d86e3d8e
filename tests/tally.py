"""What the resilience suites proved, summed over a run and printed at its end (see conftest).

A suite counts only after its assertions passed, so a printed count is a count that held."""

from __future__ import annotations

from collections import Counter

TOTALS: Counter[str] = Counter()
LINES: list[str] = []

KILLS = "kills survived"
FAULTS = "faults injected"
BAD_INPUTS = "bad inputs tried"
LOST = "files lost"


def count(what: str, n: int = 1) -> None:
    TOTALS[what] += n


def report(line: str) -> None:
    LINES.append(line)


def summary() -> list[str]:
    if not LINES and not TOTALS:
        return []
    order = [KILLS, FAULTS, BAD_INPUTS, LOST]
    totals = ", ".join(f"{what}: {TOTALS[what]}" for what in order + sorted(set(TOTALS) - set(order)))
    return [*LINES, totals]
