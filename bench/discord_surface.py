"""A Discord channel for the shared renderer: 5 message edits per 5 s, else 429.

It measures :class:`bot.output.render.StreamRenderer` against Discord's limit at the
Discord edit interval, not the discord.py client (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from agent import events as ev
from bench.rig import WORD, last_marker
from bench.streams import ThreadRun, thread_run
from bot.output.render import StreamRenderer
from bot.platform import RateGate, RateLimited

EDITS_PER_WINDOW = 5
WINDOW_SECONDS = 5.0
MAX_CHARS = 2000


class SlidingWindow:
    """At most ``limit`` calls in any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.calls: deque[float] = deque()

    def wait(self) -> float:
        """0 if a call may go now (and count it), else the seconds until one may."""
        now = time.monotonic()
        while self.calls and now - self.calls[0] >= self.seconds:
            self.calls.popleft()
        if len(self.calls) >= self.limit:
            return self.calls[0] + self.seconds - now
        self.calls.append(now)
        return 0.0


class DiscordChannel:
    """A :class:`bot.platform.Surface` keeping when each message write showed which chunk;
    ``limited=False`` drops Discord's limit (a free in-memory chat for the overhead figure)."""

    max_chars = MAX_CHARS

    def __init__(self, interval: float, *, limited: bool = True) -> None:
        self.gate = RateGate(interval)
        self.window = SlidingWindow(EDITS_PER_WINDOW if limited else 10**9, WINDOW_SECONDS)
        self.shown: list[tuple[float, int]] = []
        self.refused = 0

    def _write(self, text: str) -> None:
        if wait := self.window.wait():
            self.refused += 1
            raise RateLimited(wait)
        self.shown.append((time.monotonic(), last_marker(text)))

    async def post(self, text: str, *, final: bool = False) -> str:
        self._write(text)
        return "m1"

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        self._write(text)

    async def post_line(self, ref: str | None, text: str) -> str:
        self._write(text)
        return ref or "l1"

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        self._write("")
        return {}

    async def post_notice(self, text: str) -> None:
        self._write(text)


async def discord_stream(chunks: int, rate: float, interval: float) -> ThreadRun:
    """Feed the renderer ``chunks`` words at ``rate`` per second, then end the turn."""
    channel = DiscordChannel(interval)
    renderer = StreamRenderer(channel)
    sent: list[float] = []
    start = time.monotonic()
    for k in range(1, chunks + 1):
        await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
        sent.append(time.monotonic())
        await renderer.handle(ev.AssistantChunk(content=WORD.format(k)))
    await renderer.handle(ev.TurnComplete())
    await renderer.close()
    return thread_run(sent, channel.shown, channel.refused)
