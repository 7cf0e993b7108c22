"""A tool call as one compact line: its state and, when done, its output's first line (a
``bash`` call: its command's first line, then its exit code, duration and last lines that
say something)."""

from __future__ import annotations

from typing import Any

from bot.output.messages import STATE_ICONS

SUMMARY_CHARS = 160
LAST_LINES = 3
MARKERS = frozenset("^~ ")
ERROR = "ERROR: "
"""How a failed call's output starts for the model."""


def summarize(text: str, limit: int = SUMMARY_CHARS) -> str:
    """First non-empty line of a tool output, shortened."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _noise(line: str) -> bool:
    """A line a person gains nothing from in the last lines: the log's path, or Python's
    markers under the failing expression (``~~~^^^^``), which point nowhere in a quote."""
    return line.startswith("[full output") or set(line.strip()) <= MARKERS


def tool_line(tool: str, state: str, detail: str = "") -> str:
    icon = STATE_ICONS.get(state, "•")
    text = f"{icon} `{tool}` {state}"
    return f"{text} — {detail}" if detail else text


def call_detail(tool: str, arguments: dict[str, Any]) -> str:
    """What a running call shows: a ``bash`` command's first line."""
    command = arguments.get("command") if tool == "bash" else None
    return f"`{summarize(command, SUMMARY_CHARS // 2)}`" if isinstance(command, str) else ""


def output_detail(tool: str, output: str) -> str:
    """What a finished call shows: its output's first line; for ``bash``, the exit code and
    duration line and the output's last lines."""
    if tool != "bash":
        return summarize(output.removeprefix(ERROR))  # the line's ❌ says it already
    head, _, rest = output.partition("\n")
    lines = [ln for ln in rest.splitlines() if ln.strip() and not _noise(ln)]
    last = [summarize(ln) for ln in lines[-LAST_LINES:]]
    return "\n".join([summarize(head), *(f"> {ln}" for ln in last)])
