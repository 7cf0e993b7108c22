"""Percentiles and ratios: every figure reports p50/p99 of its samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """``n``, ``p50``, ``p99``, ``mean`` and ``max`` of ``values``, rounded."""
    if not values:
        return {"n": 0, "p50": None, "p99": None, "mean": None, "max": None}
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), digits),
        "p99": round(percentile(values, 99), digits),
        "mean": round(sum(values) / len(values), digits),
        "max": round(max(values), digits),
    }


def ratio(value: float | None, baseline: float | None, digits: int = 2) -> float | None:
    """``value / baseline``, or None when either is missing or the baseline is 0."""
    if value is None or not baseline:
        return None
    return round(value / baseline, digits)


def ms(seconds: float) -> float:
    return seconds * 1000.0
