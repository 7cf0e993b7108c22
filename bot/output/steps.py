"""A turn's tool calls and plan as :class:`bot.platform.Step` s, for surfaces that show
steps inside a native stream (:class:`bot.platform.StreamSteps`).

A tool call is one step: running when called, pending while it waits for an approval,
then done or failed with the first line of its output and the links in it (a job's
page, a repo) as sources. A call's progress (a ``research`` sub-agent's steps) shows as
the step's details, its latest lines (a sub-call's end in place of its start). The ``plan`` tool's to-do list is not a step of its own:
each item is a step and the plan's title says how far it is.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit

from agent import events as ev
from bot.output.messages import plan_title
from bot.output.redact import clean
from bot.output.toollines import output_detail
from bot.output.views import clip
from bot.platform import Step

TITLE_ARGS = (
    "operation",
    "command",
    "query",
    "repo_id",
    "repo",
    "hardware_flavor",
    "hardware",
    "path",
    "url",
    "task",
)
"""Arguments that say what a call does, in this order; the first two found title it."""
TITLE_CHARS = 80
OUTPUT_CHARS = 160
MAX_SOURCES = 3
MAX_DETAILS = 12
"""Progress lines a step's details keep (the latest)."""
URL = re.compile(r"https?://[^\s<>()\[\]`'\"]+")
PLAN_STATES = {"pending": "pending", "in_progress": "running", "done": "done"}
ENDED = {"rejected": "rejected", "abandoned": "no longer pending", "interrupted": "stopped"}
"""Tool states that end a step as failed, and the output that says why."""


def call_title(tool: str, arguments: dict[str, Any]) -> str:
    """``hf_jobs · run · a10g-small``: the tool and what it is asked to do."""
    facts = [
        first_line(str(arguments[k])) for k in TITLE_ARGS if isinstance(arguments.get(k), str | int)
    ]
    return clip(" · ".join([tool, *facts[:2]]), TITLE_CHARS)


def first_line(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return clip(line, OUTPUT_CHARS)


def sources(output: str) -> tuple[tuple[str, str], ...]:
    """The links an output names (a job's page, a repo), as ``(url, label)``."""
    found: list[tuple[str, str]] = []
    for url in dict.fromkeys(m.rstrip(".,;:") for m in URL.findall(output)):
        parts = urlsplit(url)
        found.append((url, clip(parts.netloc + parts.path.rstrip("/"), TITLE_CHARS)))
    return tuple(found[:MAX_SOURCES])


def progressed(lines: list[str], line: str) -> None:
    """Add a progress line to ``lines``; a sub-call's end (``✓ tool: …``, ``✗ tool: …``)
    takes the place of the first line of its start (``→ tool · …``): one line per call."""
    ended = line[:2] in ("✓ ", "✗ ") and line[2:].split(":", 1)[0]
    start = f"→ {ended}"
    for n, earlier in enumerate(lines):
        if ended and (earlier == start or earlier.startswith(f"{start} · ")):
            lines[n] = line
            return
    lines.append(line)


class StepBook:
    """The steps of one turn so far; :meth:`of` turns an event into the steps it changes."""

    def __init__(self) -> None:
        self.titles: dict[str, str] = {}  # tool_call_id -> step title
        self.progress: dict[str, list[str]] = {}  # tool_call_id -> its progress lines

    def of(self, event: ev.Event) -> tuple[list[Step], str | None] | None:
        """The steps ``event`` shows or updates and the plan's new title; None: not a step."""
        match event:
            case ev.ToolCall(tool="plan", arguments={"items": list(items)}):
                return self._plan(items)
            case ev.ToolOutput(tool="plan", tool_call_id=call_id, success=True) if (
                call_id not in self.titles
            ):
                return [], None  # its items are the steps
            case ev.ToolCall(tool=tool, arguments=arguments, tool_call_id=call_id):
                return [self._step(call_id, call_title(tool, arguments), "running")], None
            case ev.ToolProgress(tool=tool, tool_call_id=call_id, text=text):
                progressed(self.progress.setdefault(call_id, []), clean(text))
                return [self._step(call_id, self.titles.get(call_id, tool), "running")], None
            case ev.ToolStateChange(tool=tool, tool_call_id=call_id, state="running"):
                return [self._step(call_id, self.titles.get(call_id, tool), "running")], None
            case ev.ToolStateChange(tool=tool, tool_call_id=call_id, state=state) if state in ENDED:
                title = self.titles.get(call_id, tool)
                return [self._step(call_id, title, "failed", ENDED[state])], None
            case ev.ToolStateChange():
                return [], None  # approved: "running" follows at once
            case ev.ToolOutput(tool=tool, tool_call_id=call_id, output=output, success=ok):
                output = clean(output)
                title = self.titles.get(call_id, tool)
                state = "done" if ok else "failed"
                step = self._step(call_id, title, state, clip(output_detail(tool, output), 400))
                return [dataclasses.replace(step, sources=sources(output))], None
        return None

    def waiting(self, event: ev.ApprovalRequired) -> list[Step]:
        """The calls an approval card holds, as pending steps."""
        return [
            self._step(
                t["tool_call_id"], call_title(t["tool"], t.get("arguments") or {}), "pending"
            )
            for t in event.tools
        ]

    def _step(self, call_id: str, title: str, state: str, output: str = "") -> Step:
        self.titles[call_id] = title
        details = "\n".join(self.progress.get(call_id, [])[-MAX_DETAILS:])
        return Step(call_id, title, state, output, details)

    def _plan(self, items: list[Any]) -> tuple[list[Step], str | None]:
        steps = [
            Step(f"plan-{n}", clip(str(item.get("task", "")), TITLE_CHARS), state)
            for n, item in enumerate(items, 1)
            if isinstance(item, dict)
            and (state := PLAN_STATES.get(str(item.get("status", "pending"))))
        ]
        done = sum(step.state == "done" for step in steps)
        now = next((step.title for step in steps if step.state == "running"), None)
        return steps, plan_title(done, len(steps), now)
