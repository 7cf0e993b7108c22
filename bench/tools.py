"""The tools the benchmarked agent gets: a no-op, and an ``hf_jobs`` double that needs approval."""

from __future__ import annotations

import re
import time
from typing import Any

from agent.tools.registry import Tool, ToolContext, ToolRegistry

OBJECT = {"type": "object", "properties": {}}
STARTED = re.compile(r"started (\d+\.\d+)")
GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "print('bench')"}


async def _noop(args: dict[str, Any], ctx: ToolContext) -> str:
    return "ok"


async def _job(args: dict[str, Any], ctx: ToolContext) -> str:
    """Says when it started on the system-wide monotonic clock, comparable across processes."""
    return f"started {time.monotonic():.6f}"


def bench_tools() -> ToolRegistry:
    return ToolRegistry(
        [
            Tool("noop", "Do nothing.", OBJECT, _noop),
            Tool("hf_jobs", "Run a job (bench double).", OBJECT, _job, script_field="script"),
        ]
    )
