"""Prometheus metrics, served at ``GET /metrics``."""

from prometheus_client import Counter, Gauge, Histogram

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

OUTCOMES = {
    "turn_complete": "complete",
    "interrupted": "interrupted",
    "error": "error",
    "approval_required": "paused",
}
