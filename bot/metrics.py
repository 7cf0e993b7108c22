"""Prometheus metrics, served at ``GET /metrics``."""

from prometheus_client import Counter, Gauge

TURNS = Counter("mib_turns_total", "Turn steps, by how they ended", ["outcome"])
TOOL_CALLS = Counter("mib_tool_calls_total", "Tool calls, by tool and outcome", ["tool", "outcome"])
APPROVALS = Counter("mib_approvals_total", "Approval clicks, by result", ["result"])
RUNNING_TURNS = Gauge("mib_running_turns", "Turns running in this process")

OUTCOMES = {
    "turn_complete": "complete",
    "interrupted": "interrupted",
    "error": "error",
    "approval_required": "paused",
}
