"""Prometheus metrics, served at ``GET /metrics``, and the hooks that feed them from
the agent's events and model calls."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

from agent import events as ev
from agent.usage import Usage

TURNS = Counter("mib_turns_total", "Turn steps, by how they ended", ["outcome"])
TOOL_CALLS = Counter("mib_tool_calls_total", "Tool calls, by tool and outcome", ["tool", "outcome"])
APPROVALS = Counter(
    "mib_approvals_total", "Approval clicks, by decision and result", ["decision", "result"]
)
RUNNING_TURNS = Gauge("mib_running_turns", "Turns running in this process")
QUEUE_DEPTH = Gauge("mib_queue_depth", "Turn stream entries waiting or running, fleet-wide")
TAKEOVERS = Counter("mib_takeovers_total", "Turns taken over from a worker that stopped")
REFUSED = Counter("mib_refused_inputs_total", "Inputs refused before queueing", ["reason"])
LLM_LATENCY = Histogram(
    "mib_llm_call_seconds",
    "Model call attempts until the stream starts, by outcome",
    ["outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
PLATFORM_CALLS = Counter(
    "mib_platform_calls_total", "Chat platform calls (edit rate: method=edit)", ["method"]
)
RATE_LIMITED = Counter("mib_rate_limited_total", "429 answers received, by source", ["source"])
MODEL_TOKENS = Counter(
    "mib_model_tokens_total", "Tokens of the turns' model calls, by kind", ["kind"]
)
MODEL_COST = Counter(
    "mib_model_cost_usd_total", "USD of the turns' model calls whose model has a known price"
)

OUTCOMES = {
    "turn_complete": "complete",
    "interrupted": "interrupted",
    "error": "error",
    "approval_required": "paused",
}


def count(event: ev.Event) -> None:
    """Metrics from a turn's event stream: how its steps ended, how its tool calls went."""
    if event.type in OUTCOMES:
        TURNS.labels(OUTCOMES[event.type]).inc()
    elif isinstance(event, ev.ToolOutput):
        TOOL_CALLS.labels(event.tool, "ok" if event.success else "failed").inc()


def count_usage(usage: Usage) -> None:
    """Metrics from what a turn's model calls used (its sub-agents' included)."""
    MODEL_TOKENS.labels("prompt").inc(usage.prompt_tokens)
    MODEL_TOKENS.labels("completion").inc(usage.completion_tokens)
    MODEL_COST.inc(usage.cost_usd)


def observe_llm(outcome: str, seconds: float) -> None:
    """Metrics from one model call attempt (an observer of :data:`agent.llm.OBSERVERS`)."""
    LLM_LATENCY.labels(outcome).observe(seconds)
    if outcome == "429":
        RATE_LIMITED.labels("llm").inc()


_llm_holders = 0


@contextmanager
def observing_llm() -> Iterator[None]:
    """Feed model calls to the metrics while inside (nested or overlapping uses add it once)."""
    from agent import llm  # imported by the process that runs turns, not by every command

    global _llm_holders
    if _llm_holders == 0:
        llm.OBSERVERS.append(observe_llm)
    _llm_holders += 1
    try:
        yield
    finally:
        _llm_holders -= 1
        if _llm_holders == 0:
            llm.OBSERVERS.remove(observe_llm)
