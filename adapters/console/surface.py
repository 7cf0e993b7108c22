"""The terminal as a surface: streamed text printed as it grows, one line per tool state."""

from __future__ import annotations

import itertools
import json
from typing import Any, TextIO

from agent import events as ev
from bot.platform import RateGate

SCRIPT_PREVIEW_LINES = 30


def describe_call(tool: dict[str, Any]) -> str:
    """A tool call as an approver reads it: name, arguments, script preview."""
    args = dict(tool["arguments"])
    script = args.pop("script", None)
    lines = [f"`{tool['tool']}` {json.dumps(args, ensure_ascii=False)}"]
    if isinstance(script, str):
        body = script.splitlines()
        shown = "\n".join(body[:SCRIPT_PREVIEW_LINES])
        more = len(body) - SCRIPT_PREVIEW_LINES
        lines.append(f"```\n{shown}\n```" + (f"\n(+{more} more lines)" if more > 0 else ""))
    return "\n".join(lines)


class ConsoleSurface:
    max_chars = 1_000_000

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.gate = RateGate(0)
        self.approval: ev.ApprovalRequired | None = None
        self._texts: dict[str, str] = {}
        self._ids = itertools.count(1)

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    async def post(self, text: str, *, final: bool = False) -> str:
        ref = str(next(self._ids))
        self._texts[ref] = ""
        self._write("\n")
        await self.edit(ref, text, final=final)
        return ref

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        shown = self._texts.get(ref, "")
        self._write(text[len(shown) :] if text.startswith(shown) else "\n" + text)
        self._texts[ref] = text
        if final:
            self._write("\n")

    async def post_line(self, ref: str | None, text: str) -> str:
        self._write(f"  {text}\n")
        return ref or str(next(self._ids))

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        self.approval = event
        self._write(f"\n⏸️  {event.count} tool call(s) need your approval:\n")
        for n, tool in enumerate(event.tools, 1):
            self._write(f"\n[{n}] {describe_call(tool)}\n")
        return {}

    async def post_notice(self, text: str) -> None:
        self._write(f"{text}\n")
