"""What the model is told about the ``hf_jobs`` tool: its description and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.tools.hub_common import limit_schema, operation_schema

DEFAULT_IMAGE = "python:3.12"
UV_IMAGE = "ghcr.io/astral-sh/uv:python3.12-bookworm"

DESCRIPTION = (
    "Run and manage Hugging Face Jobs (paid cloud compute).\n"
    "- run: a Docker image + command. uv: a Python script run with uv (script + dependencies).\n"
    "- 'scheduled run' / 'scheduled uv': the same on a cron schedule.\n"
    "- hardware: every flavor with its CPU, GPU, memory and hourly price; with "
    "hardware_flavor and timeout, the job's worst-case cost (price × timeout), the figure "
    "its approval card will show.\n"
    "- ps, logs, inspect, cancel; 'scheduled ps', 'scheduled inspect', 'scheduled suspend', "
    "'scheduled resume', 'scheduled delete'.\n"
    "The script may be inline Python, 'sandbox:<file>' (a file of the sandbox), "
    "'hf://[datasets/|spaces/]<namespace>/<repo>[@rev]/<path>' or an https URL. "
    "Job storage is ephemeral: push results to the Hub (push_to_hub) inside the script. "
    "Secrets are passed by name (e.g. ['HF_TOKEN']) and never shown. "
    "Runs on GPU (and on CPU unless configured otherwise) wait for a person's approval. "
    "After a run you get a live status line; do not poll in a loop.\n"
    "Hardware: cpu-basic, cpu-upgrade, t4-small, t4-medium, l4x1, l4x4, a10g-small, "
    "a10g-large, a10g-largex2, a100-large, a100x4, h200, ... (prices: operation hardware; 1-3B params: t4/a10g-small; "
    "7-13B: a10g-large; 30B+: a100-large)."
)


def parameters(operations: Mapping[str, Any]) -> dict[str, Any]:
    strings = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "properties": {
            "operation": operation_schema(operations, "What to do."),
            "script": {
                "type": "string",
                "description": "uv operations: inline Python, 'sandbox:<file>', 'hf://...' or URL.",
            },
            "dependencies": {
                **strings,
                "description": "uv: pip packages, e.g. ['trl', 'datasets'].",
            },
            "script_args": {**strings, "description": "uv: arguments passed to the script."},
            "python": {"type": "string", "description": "uv: Python version, e.g. '3.12'."},
            "command": {
                **strings,
                "description": "run: the command, e.g. ['python', '-c', '...'].",
            },
            "image": {
                "type": "string",
                "description": f"Docker image (run default {DEFAULT_IMAGE}; uv default {UV_IMAGE}).",
            },
            "hardware_flavor": {
                "type": "string",
                "description": (
                    "Hardware, e.g. cpu-basic (default), t4-small, a10g-large, a100-large; "
                    "hardware: the flavor to price."
                ),
            },
            "timeout": {
                "type": ["string", "integer"],
                "description": (
                    "Max run time, e.g. '30m', '4h' or seconds (training needs hours; "
                    "default 30m); hardware: the run time to price."
                ),
            },
            "env": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Plain environment variables.",
            },
            "secrets": {**strings, "description": "Names of secrets to pass, e.g. ['HF_TOKEN']."},
            "schedule": {
                "type": "string",
                "description": "Scheduled runs: '@hourly', '@daily', '@weekly' or a cron expression.",
            },
            "job_id": {"type": "string", "description": "logs, inspect, cancel: the job id."},
            "scheduled_job_id": {
                "type": "string",
                "description": "scheduled inspect/suspend/resume/delete: the scheduled job id.",
            },
            "tail": {
                "type": "integer",
                "minimum": 1,
                "maximum": 500,
                "description": "logs: how many last lines (default 50).",
            },
            "all": {"type": "boolean", "description": "ps: include finished jobs."},
            "limit": limit_schema(20, 100),
            "namespace": {
                "type": "string",
                "description": "User or org that runs (and pays for) the job. Default: the token's user.",
            },
        },
        "required": ["operation"],
    }
