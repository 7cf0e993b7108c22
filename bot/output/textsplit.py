"""Splitting long markdown into messages at a platform's limit, code fences intact."""

from __future__ import annotations

import re

FENCE = re.compile(r"^[ \t]*(```|~~~)(.*)$")
CLOSE_RESERVE = 4  # room for "\n```" when a cut lands inside a code block


def open_fence(text: str) -> str | None:
    """The opening fence line if ``text`` ends inside an unclosed code block."""
    opening: str | None = None
    for line in text.split("\n"):
        match = FENCE.match(line)
        if not match:
            continue
        if opening is None:
            opening = line.strip()
        elif match.group(1) == opening[:3] and not match.group(2).strip():
            opening = None
    return opening


def _cut_point(text: str, limit: int) -> int:
    """Where to cut: a paragraph break, else a line break, else a space, else hard."""
    window = text[:limit]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at >= limit // 2:
            return at + len(sep)
    return limit


def cut_once(text: str, limit: int) -> tuple[str, str]:
    """Split off a first message of at most ``limit`` characters; fences are closed and reopened."""
    if len(text) <= limit:
        return text, ""
    cut = _cut_point(text, limit - CLOSE_RESERVE)
    head, rest = text[:cut], text[cut:]
    fence = open_fence(head)
    if fence:
        head = head.rstrip("\n") + "\n" + fence[:3]
        rest = fence + "\n" + rest
    return head, rest


def split_text(text: str, limit: int) -> list[str]:
    """All the messages ``text`` needs at ``limit`` characters each."""
    pieces = []
    while len(text) > limit:
        head, text = cut_once(text, limit)
        pieces.append(head)
    pieces.append(text)
    return pieces


def stream_cut(text: str) -> int:
    """How much of a growing answer a stream may append now: whole lines, or words outside code."""
    line_end = text.rfind("\n") + 1
    if open_fence(text[:line_end]):
        return line_end
    return max(line_end, text.rfind(" ") + 1)


def cut_at(text: str, at: int) -> tuple[str, str]:
    """Split ``text`` at ``at``, closing a code fence open there and reopening it after."""
    head, rest = text[:at], text[at:]
    fence = open_fence(head)
    if fence:  # ``head`` only grows: a stream has shown ``text[:at]`` already
        head += ("" if head.endswith("\n") else "\n") + fence[:3]
        rest = fence + "\n" + rest if rest else ""
    return head, rest
