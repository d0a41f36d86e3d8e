"""What the resilience suites proved, summed over a run and printed at its end (see conftest).

A suite counts only after its assertions passed, so a printed count is a count that held."""

from __future__ import annotations

from collections import Counter

TOTALS: Counter[str] = Counter()
LINES: list[str] = []

KILLS = "kills survived"
FAULTS = "faults injected"
BAD_INPUTS = "bad inputs tried"
CHECKED = "files checked"      # dropped files whose fate a test checked: any loss fails that test


def count(what: str, n: int = 1) -> None:
    TOTALS[what] += n


def report(line: str) -> None:
    LINES.append(line)


def summary() -> list[str]:
    """The suites' own lines, then the totals that this run touched."""
    totals = [f"{what}: {TOTALS[what]}" for what in (KILLS, FAULTS, BAD_INPUTS) if what in TOTALS]
    if TOTALS[CHECKED]:
        totals.append(f"files lost: 0 of {TOTALS[CHECKED]} checked")
    return [*LINES, ", ".join(totals)] if totals else LINES
