"""Hardware and its prices: what a job or a sandbox costs an hour, and a job at most.

Prices come from the Hub (``HfApi.list_jobs_hardware``) when it answers; otherwise
from :data:`LIST_PRICES_USD_PER_HOUR`, the public list prices when this was written.
One :class:`CostEstimator` serves the ``hf_jobs`` ``hardware`` operation, the sandbox
tools and the bot's approval cards, so what the model states and what the card shows
are the same figures.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from huggingface_hub import HfApi

from agent.policy import SANDBOX_FREE_HARDWARE

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


@dataclass(frozen=True)
class Flavor:
    """One hardware flavor as the Hub lists it."""

    name: str
    hourly_usd: float
    cpu: str = ""
    ram: str = ""
    gpu: str = ""
    """e.g. '1× Nvidia A10G, 24 GB'; empty for CPU-only flavors."""

    def specs(self) -> str:
        """'4 vCPU · 15 GB RAM · 1× Nvidia A10G, 24 GB'."""
        return " · ".join([self.cpu, f"{self.ram} RAM", self.gpu or "no GPU"])


def hub_hardware(api: HfApi) -> list[Flavor]:
    """The flavors ``HfApi.list_jobs_hardware`` lists, priced by the hour; empty if it fails."""
    try:
        listed = api.list_jobs_hardware()
    except Exception as exc:  # prices are a nicety: fall back to the list prices
        logger.info("list_jobs_hardware failed (%s): using list prices", exc)
        return []
    flavors = []
    for item in listed:
        per_hour = _PER_UNIT.get(str(getattr(item, "unit_label", "")).lower())
        cost = getattr(item, "unit_cost_usd", None)
        if per_hour and isinstance(cost, int | float):
            flavors.append(
                Flavor(item.name, float(cost) * per_hour, item.cpu, item.ram, _gpu(item))
            )
    return flavors


def _gpu(item: Any) -> str:
    accelerator = getattr(item, "accelerator", None)
    if accelerator is None:
        return ""
    return f"{accelerator.quantity}× {accelerator.manufacturer} {accelerator.model}, {accelerator.vram}"


class CostEstimator:
    """Hourly prices by flavor (the Hub's where it listed them, else the list prices) and
    what a job or a sandbox costs in them."""

    def __init__(self, prices: Mapping[str, float] | None = None) -> None:
        self.prices = {**LIST_PRICES_USD_PER_HOUR, **(prices or {})}
        self.hub: dict[str, Flavor] = {}
        """The flavors the Hub listed at the last reading that answered."""

    async def load(self, api: HfApi) -> bool:
        """Read the Hub's hardware list (in a thread); False when it did not answer, and the
        prices stay as they were."""
        flavors = await asyncio.to_thread(hub_hardware, api)
        if not flavors:
            return False
        self.hub = {flavor.name: flavor for flavor in flavors}
        self.prices.update({flavor.name: flavor.hourly_usd for flavor in flavors})
        return True

    def hourly(self, flavor: str) -> float:
        return self.prices.get(flavor, UNKNOWN_FLAVOR_USD_PER_HOUR)

    def sandbox_hourly(self, hardware: str) -> float:
        """What a sandbox costs an hour: cpu-basic Spaces are free."""
        return 0.0 if hardware == SANDBOX_FREE_HARDWARE else self.hourly(hardware)

    def job_cost(self, flavor: str, timeout: Any) -> float:
        """USD at most: a job runs at most its timeout (the Hub's default when unset)."""
        return round(self.hourly(flavor) * timeout_seconds(timeout) / 3600, 4)

    def flavors(self) -> list[Flavor]:
        """Every known flavor with its price: the Hub's, then list-priced ones it did not list."""
        rest = [Flavor(name, price) for name, price in self.prices.items() if name not in self.hub]
        return [*self.hub.values(), *rest]


def describe_hardware(costs: CostEstimator, flavor: str | None = None, timeout: Any = None) -> str:
    """The ``hardware`` operation's answer: each flavor's specs and price, and with
    ``flavor`` a job's worst case (price × timeout), as the approval card shows it."""
    source = (
        "the Hub's hardware list"
        if costs.hub
        else "list prices: the Hub's hardware list did not answer, so specs are unknown"
    )
    rows = [
        f"{f.name}: {f.specs() + ' · ' if f.cpu else ''}${f.hourly_usd:.2f}/h"
        for f in costs.flavors()
    ]
    text = (
        f"Hardware for jobs, USD per hour ({source}):\n"
        + "\n".join(rows)
        + f"\nA sandbox costs the same by the hour, except {SANDBOX_FREE_HARDWARE}: free."
    )
    if not flavor:
        return text
    seconds = timeout_seconds(timeout)
    duration = f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds / 60:g} min"
    default = " (the default)" if timeout is None else ""
    known = "" if flavor in costs.prices else " (an unknown flavor, priced like the largest)"
    return (
        f"{text}\n\nA job on {flavor}{known} with timeout {duration}{default}: at most "
        f"${costs.job_cost(flavor, timeout):.2f} (${costs.hourly(flavor):.2f}/h × {duration}), "
        "the figure its approval card will show. State it in the pre-flight checklist."
    )
