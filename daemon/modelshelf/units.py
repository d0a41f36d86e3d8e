"""Byte counts for people."""

from __future__ import annotations


def human_size(n: float) -> str:
    """1234 -> '1.2 KB', 12_100_000_000 -> '12.1 GB' (decimal units, as disks are sold)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")
