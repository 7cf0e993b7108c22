"""A real worker process for the fault-injection tests: ``python -m tests.fault_worker``,
forked by :class:`tests.fleet.Worker` from a fork server that imported the bot once.

It is ``ml-intern-bot worker`` (:func:`bot.ops.worker.run_worker`, settings from the
environment) with two test doubles the tests read back from ``FAULT_DIR``:
a ``test`` platform whose surface appends every call to ``surface.jsonl``, and
an ``hf_jobs`` tool that appends each execution to ``tools.jsonl`` and then
sleeps ``sleep`` seconds. With ``FAULT_SANDBOX=1`` it also has the real sandbox tools
(``SANDBOX`` picks the backend; ``DATA_DIR`` is shared by the fleet). ``FAULT_PLATFORM`` lists failures the surface answers
its first calls with (``429`` or ``5xx``, comma-separated). With ``FAULT_SLACK=1`` the
worker renders through the real Slack surfaces instead (``SLACK_API_URL``: the Slack
stand-in), noting in ``turns.jsonl`` which worker opened a surface for which session.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from adapters.slack.surface import slack_surfaces
from agent import events as ev
from agent.tools.plan import PLAN_TOOL
from agent.tools.registry import Tool, ToolContext, ToolRegistry
from agent.tools.sandbox import sandbox_tools
from bot.cli import load_settings, setup_logging
from bot.ops.worker import run_worker
from bot.platform import PlatformUnavailable, RateGate, RateLimited
from bot.runtime import build_sandboxes

DIR = Path(os.environ["FAULT_DIR"])
PID = os.getpid()


def record(name: str, **entry: Any) -> None:
    with (DIR / name).open("a") as f:
        f.write(json.dumps({"pid": PID, "at": time.time(), **entry}) + "\n")


async def fake_job(args: dict[str, Any], ctx: ToolContext) -> str:
    record("tools.jsonl", session=ctx.session.key, call=ctx.tool_call_id, args=args)
    await asyncio.sleep(float(args.get("sleep", 0)))
    return f"job submitted: {args.get('script', '')}"


class FileSurface:
    """A thread whose every call is a line in ``surface.jsonl``."""

    max_chars = 2000
    refs = itertools.count(1)
    failures = [f for f in os.environ.get("FAULT_PLATFORM", "").split(",") if f]

    def __init__(self, key: str) -> None:
        self.key = key
        self.gate = RateGate(0)

    def _call(self, call: str, ref: str | None = None, **entry: Any) -> str:
        if self.failures:
            failure = self.failures.pop(0)
            record("surface.jsonl", key=self.key, call="refused", status=failure)
            raise RateLimited(0.05) if failure == "429" else PlatformUnavailable(failure)
        ref = ref or f"{PID}-{next(self.refs)}"
        record("surface.jsonl", key=self.key, call=call, ref=ref, **entry)
        return ref

    async def post(self, text: str, *, final: bool = False) -> str:
        return self._call("post", text=text, final=final)

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        self._call("edit", ref, text=text, final=final)

    async def delete(self, ref: str) -> None:
        self._call("delete", ref)

    async def post_line(self, ref: str | None, text: str) -> str:
        return self._call("line", ref, text=text)

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        return {"ref": self._call("approval", event=event.to_dict())}

    async def post_notice(self, text: str) -> None:
        self._call("notice", text=text)


async def work() -> None:
    settings = load_settings()
    setup_logging(settings)
    tools = ToolRegistry(
        [
            PLAN_TOOL,
            Tool("hf_jobs", "Run a job (test double).", {"type": "object"}, fake_job, "script"),
            *(sandbox_tools(build_sandboxes(settings)) if os.environ.get("FAULT_SANDBOX") else []),
        ]
    )
    surfaces: dict[str, Any] = {"test": lambda key, ref: FileSurface(key)}
    if os.environ.get("FAULT_SLACK"):
        slack = slack_surfaces(settings)  # its HTTP session needs the running loop

        def slack_surface(key: str, ref: dict[str, Any]) -> Any:
            record("turns.jsonl", key=key)
            return slack(key, ref)

        surfaces = {"slack": slack_surface}
    await run_worker(settings, tools=tools, surfaces=surfaces)


def main() -> None:
    asyncio.run(work())


if __name__ == "__main__":
    sys.exit(main())
