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
