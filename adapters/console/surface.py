"""The terminal as a surface: streamed text printed as it grows, one line per tool state."""

from __future__ import annotations

import itertools
from typing import Any, TextIO

from agent import events as ev
from bot.approvals.card import ApprovalCard, CallView, script_preview
from bot.platform import RateGate

PREVIEW_CHARS = 4000


def describe_call(call: CallView) -> str:
    """A tool call as an approver reads it: name, arguments, what the rules say, the script."""
    lines = ["  ·  ".join([f"`{call.tool}`", *(f"{key}: {value}" for key, value in call.key_args)])]
    lines += [text for text in (call.other_args, call.note) if text]
    if call.script is not None:
        lines.append(script_preview(call.script, PREVIEW_CHARS))
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
        for call in ApprovalCard.build(event.approval_id, event.tools).calls:
            self._write(f"\n[{call.number}] {describe_call(call)}\n")
        return {}

    async def post_notice(self, text: str) -> None:
        self._write(f"{text}\n")
