"""What a tool call is estimated to cost: an HF Job's hourly price times its timeout, a
sandbox's hourly price.

Prices come from the Hub (``list_jobs_hardware``) when it answers; otherwise
from :data:`LIST_PRICES_USD_PER_HOUR`, the public list prices when this was
written. A job runs at most its timeout, so the estimate is an upper bound.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from agent.policy import job_flavor, sandbox_hardware

logger = logging.getLogger(__name__)

DEFAULT_JOB_TIMEOUT_S = 30 * 60
"""HF Jobs stop a job after 30 minutes unless a timeout is given."""

LIST_PRICES_USD_PER_HOUR: Mapping[str, float] = {
    "cpu-basic": 0.01,
    "cpu-upgrade": 0.03,
    "cpu-performance": 0.05,
    "cpu-xl": 0.10,
    "t4-small": 0.40,
    "t4-medium": 0.60,
    "l4x1": 0.80,
    "l4x4": 3.80,
    "l40sx1": 1.80,
    "l40sx4": 8.30,
    "l40sx8": 23.50,
    "a10g-small": 1.00,
    "a10g-large": 1.50,
    "a10g-largex2": 3.00,
    "a10g-largex4": 5.00,
    "a100-large": 2.50,
    "a100x4": 10.00,
    "a100x8": 20.00,
    "h200": 5.00,
    "h200x2": 10.00,
    "h200x4": 20.00,
    "h200x8": 40.00,
}
UNKNOWN_FLAVOR_USD_PER_HOUR = 40.0
"""An unknown flavor is priced like the largest one: the estimate errs on the safe side."""

JOB_RUNS = frozenset({"run", "uv", "scheduled run", "scheduled uv"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PER_UNIT = {"second": 3600, "minute": 60, "hour": 1}


def timeout_seconds(value: Any) -> int:
    """A job's timeout ('90m', '4h', '3600', 3600) in seconds; the Hub's default when unset."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
        if match:
            return int(float(match[1]) * _UNITS.get(match[2] or "s", 1))
    return DEFAULT_JOB_TIMEOUT_S


def hub_prices(api: Any) -> dict[str, float]:
    """Hourly USD prices by flavor from ``HfApi.list_jobs_hardware``; empty if it fails."""
    try:
        hardware = api.list_jobs_hardware()
    except Exception as exc:  # prices are a nicety: fall back to the list prices
        logger.info("list_jobs_hardware failed (%s): using list prices", exc)
        return {}
    prices = {}
    for item in hardware:
        per_hour = _PER_UNIT.get(str(getattr(item, "unit_label", "")).lower())
        cost = getattr(item, "unit_cost_usd", None)
        if per_hour and isinstance(cost, int | float):
            prices[item.name] = float(cost) * per_hour
    return prices


class CostEstimator:
    def __init__(self, prices: Mapping[str, float] | None = None) -> None:
        self.prices = {**LIST_PRICES_USD_PER_HOUR, **(prices or {})}

    def hourly(self, flavor: str) -> float:
        return self.prices.get(flavor, UNKNOWN_FLAVOR_USD_PER_HOUR)

    def estimate(self, tool: str, args: dict[str, Any]) -> float:
        """USD at most; 0 for calls that start no paid compute. A sandbox counts by the
        hour: its first hour here."""
        if tool == "sandbox_create":
            return round(self.hourly(sandbox_hardware(args)), 4)
        if tool != "hf_jobs" or args.get("operation") not in JOB_RUNS:
            return 0.0
        hours = timeout_seconds(args.get("timeout")) / 3600
        return round(self.hourly(job_flavor(args)) * hours, 4)
