"""A tool call as one compact line: its state and, when done, its output's first line."""

from __future__ import annotations

from bot.output.messages import STATE_ICONS

SUMMARY_CHARS = 160


def summarize(text: str, limit: int = SUMMARY_CHARS) -> str:
    """First non-empty line of a tool output, shortened."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tool_line(tool: str, state: str, detail: str = "") -> str:
    icon = STATE_ICONS.get(state, "•")
    text = f"{icon} `{tool}` {state}"
    return f"{text} — {detail}" if detail else text
