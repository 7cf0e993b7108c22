"""Slack's rate limits as Slack counts them, kept by the bot before it calls.

Slack counts each Web API method per workspace in tiers (Tier 2 about 20 calls a
minute, Tier 3 about 50, Tier 4 about 100) and ``chat.postMessage`` per channel (about
one a second). :class:`WorkspaceBudget` keeps a :class:`Lane` per method (and one per
channel for posts): a token bucket served first come, first served, so threads
streaming at once share a method's budget fairly, each getting its turn in order. A 429
blocks its method's lane for ``Retry-After`` seconds, for every thread of the workspace.

A thread's surface waits on a :class:`ThreadGate`: the renderer's ``ready`` takes the
next slot of the method its text write will call (then shows its newest text in it) and
keeps the thread's own pace, at most one text write per ``interval``.

The budget lives in one process: several processes on one workspace (a front end and
workers) each keep their own, and Slack's 429s bring them back within the limits.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

TIER_PER_MINUTE = {2: 20, 3: 50, 4: 100}
"""Calls a minute per workspace Slack allows at least, by tier."""
METHOD_TIERS = {
    "chat.update": 3,
    "chat.startStream": 2,
    "chat.appendStream": 4,
    "chat.stopStream": 2,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "assistant.threads.setStatus": 3,
    "conversations.replies": 3,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
"""The tier of each method the bot calls while it renders (Slack's method reference)."""
POST = "chat.postMessage"
POSTS_PER_SECOND = 1.0
"""``chat.postMessage`` per channel."""
BURST_SECONDS = 6.0
"""A method's lane may spend this many seconds' worth of calls at once."""
TEXT_CALLS = {
    "edit": "chat.update",
    "stream_append": "chat.appendStream",
    "stream_start": "chat.startStream",
    "post": POST,
}
"""The Web API method of each surface method the renderer waits to be ``ready`` for."""


class Lane:
    """Calls at ``per_second`` on average, at most ``burst`` at once, in arrival order."""

    def __init__(self, per_second: float, burst: float) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()  # wakes its waiters in order: first come, first served

    async def take(self) -> None:
        async with self._lock:
            while (delay := self._delay()) > 0:  # noqa: ASYNC110 - a bucket fills with time
                await asyncio.sleep(delay)
            self.tokens -= 1

    def block(self, seconds: float) -> None:
        """Slack said 429: no call for ``seconds``, and no burst right after."""
        now = time.monotonic()
        self._refill(now)
        self.blocked_until = max(self.blocked_until, now + seconds)
        self.tokens = min(self.tokens, 0.0)

    def _delay(self) -> float:
        now = time.monotonic()
        self._refill(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second

    def _refill(self, now: float) -> None:
        if now > self.blocked_until:
            since = now - max(self.stamp, self.blocked_until)
            self.tokens = min(self.burst, self.tokens + since * self.per_second)
        self.stamp = now


class WorkspaceBudget:
    """One workspace's lanes: each method's calls wait in its own, posts in their channel's."""

    def __init__(self) -> None:
        self._lanes: dict[str, Lane] = {}
        self._reserved: Counter[tuple[str, str]] = Counter()

    def lane(self, method: str, channel: str = "") -> Lane | None:
        """The lane of ``method`` (of ``channel`` for posts); None for a method not budgeted."""
        if method == POST:
            name, rate, burst = f"{POST}:{channel}", POSTS_PER_SECOND, 1.0
        elif method in METHOD_TIERS:
            name, rate = method, TIER_PER_MINUTE[METHOD_TIERS[method]] / 60
            burst = max(1.0, rate * BURST_SECONDS)
        else:
            return None
        if name not in self._lanes:
            self._lanes[name] = Lane(rate, burst)
        return self._lanes[name]

    async def acquire(
        self, method: str, channel: str, thread: str, within: float | None = None
    ) -> None:
        """Wait for a call of ``method`` in ``thread``'s turn (a slot it reserved, if any);
        :class:`TimeoutError` if none comes ``within`` seconds."""
        if self._reserved[(method, thread)]:
            self._reserved[(method, thread)] -= 1
            return
        if lane := self.lane(method, channel):
            await asyncio.wait_for(lane.take(), within)

    async def reserve(self, method: str, channel: str, thread: str) -> None:
        """Take ``thread``'s next slot of ``method`` now; its next call of it won't wait."""
        if self._reserved[(method, thread)]:
            return
        if lane := self.lane(method, channel):
            await lane.take()
        self._reserved[(method, thread)] += 1

    def penalize(self, method: str, channel: str, seconds: float) -> None:
        """A 429 on ``method``: its lane waits ``seconds`` for every thread."""
        if lane := self.lane(method, channel):
            lane.block(seconds)


class ThreadGate:
    """A thread's :class:`bot.platform.Gate` on a workspace budget.

    The Web API calls themselves wait in the budget (the surface knows which method
    each one is), so ``wait`` and ``penalize`` have nothing left to do; ``ready``
    reserves the slot of the renderer's next text write and keeps the thread's pace.
    """

    def __init__(self, budget: WorkspaceBudget, channel: str, thread: str, interval: float):
        self.budget = budget
        self.channel = channel
        self.thread = thread
        self.interval = interval
        self._next_text = 0.0

    async def wait(self, method: str = "") -> None:
        return None

    async def ready(self, method: str = "") -> None:
        delay = self._next_text - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if api := TEXT_CALLS.get(method):
            await self.budget.reserve(api, self.channel, self.thread)
        self._next_text = time.monotonic() + self.interval

    def penalize(self, seconds: float, method: str = "") -> None:
        return None
