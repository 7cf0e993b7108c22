"""What a tool call is estimated to cost on its approval card: an HF Job's hourly price
times its timeout, a sandbox's hourly price.

The prices and the arithmetic are the agent's (:mod:`agent.tools.hardware`): the
``hf_jobs`` ``hardware`` operation tells the model the same figure for the same call.
"""

from __future__ import annotations

from typing import Any

from agent.policy import JOB_RUN_OPERATIONS, job_flavor, sandbox_hardware
from agent.tools.hardware import CostEstimator


def call_cost(costs: CostEstimator, tool: str, args: dict[str, Any]) -> float:
    """USD at most; 0 for calls that start no paid compute. A sandbox counts by the hour:
    its first hour here."""
    if tool == "sandbox_create":
        return round(costs.sandbox_hourly(sandbox_hardware(args)), 4)
    if tool != "hf_jobs" or args.get("operation") not in JOB_RUN_OPERATIONS:
        return 0.0
    return costs.job_cost(job_flavor(args), args.get("timeout"))
