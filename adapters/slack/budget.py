"""Slack's rate limits as Slack counts them, kept by the bot before it calls.

Slack counts each Web API method per workspace in tiers (Tier 2 about 20 calls a
minute, Tier 3 about 50, Tier 4 about 100) and ``chat.postMessage`` per channel (about
one a second). :class:`WorkspaceBudget` keeps a :class:`Lane` per method (and one per
channel for posts): a token bucket served first come, first served, so threads
streaming at once share a method's budget fairly, each getting its turn in order. A 429
blocks its method's lane for ``Retry-After`` seconds, for every thread of the workspace.

A thread's surface waits on a :class:`ThreadGate`: the renderer's ``ready`` takes the
next slot of the method its text write will call (then shows its newest text in it) and
keeps the thread's own pace, at most one text write per ``interval``. A new answer never
waits for ``chat.startStream`` (Tier 2): without a slot free now it is posted and edited
instead, and when ``chat.update`` has no room either it is posted whole when done
(:mod:`adapters.slack.surface`). So no thread waits for its first words on another's
pacing longer than its channel's ``chat.postMessage`` turn. What only shows progress
(the 👀, a status, 👍 / 👎) takes a slot free now (:meth:`WorkspaceBudget.take_now`) or
is skipped: a turn never waits for it.

The budget lives in one process: several processes on one workspace (a front end and
workers) each keep their own, and Slack's 429s bring them back within the limits.
"""

from __future__ import annotations

import asyncio
import time

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
    "agents.sessions.setStatus": 3,
    "conversations.replies": 3,
    "reactions.add": 3,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
}
"""The tier of each method the bot calls while it renders (Slack's method reference)."""
POST = "chat.postMessage"
POSTS_PER_SECOND = 1.0
"""``chat.postMessage`` per channel."""
POST_BURST = 1.0
"""Posts a channel takes at once: Slack allows short bursts, but a second post at once
leaves no room for the jitter of requests in flight."""
BURST_SECONDS = 9.0
"""A method's lane may spend this many seconds' worth of calls at once: Slack welcomes
sporadic bursts of about 10 seconds' worth; 9 keeps a margin."""
HOLD_SECONDS = 60.0
"""A slot taken ahead of its call is let go after this (a turn that ended without it)."""
LOW_PRIORITY_POLL = 0.05
"""Seconds between a low-priority call's looks at its lane (it goes when nobody waits)."""
TEXT_CALLS = {
    "edit": "chat.update",
    "stream_append": "chat.appendStream",
    "stream_start": "chat.startStream",
    "post": POST,
}
"""The Web API method of each surface method the renderer waits to be ``ready`` for."""


class Lane:
    """Calls at ``per_second`` on average, at most ``burst`` at once, in arrival order.

    A slot may be taken ahead of its call and *held* by a thread (a placeholder's last
    edit, the next text write): Slack counts it only when the call is made, so a held slot
    counts against the burst too (the lane never fills past ``burst`` less what is held).
    Else slots held while the lane refilled would go out together with a full burst, past
    Slack's window. A slot held longer than :data:`HOLD_SECONDS` is let go (its call
    then waits in line like any other)."""

    def __init__(self, per_second: float, burst: float) -> None:
        self.per_second = per_second
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.blocked_until = 0.0
        self._held: dict[str, list[float]] = {}  # holder -> when each slot it holds was taken
        self._lock = asyncio.Lock()  # wakes its waiters in order: first come, first served

    async def take(self, holder: str = "") -> None:
        """Take the next slot (held by ``holder`` for a later call, if given)."""
        async with self._lock:
            while (delay := self._delay()) > 0:  # noqa: ASYNC110 - a bucket fills with time
                await asyncio.sleep(delay)
            self._take(holder)

    def free(self) -> bool:
        """Whether a call could go now: one is free and nobody waits."""
        return not self._lock.locked() and self._delay() <= 0

    def take_now(self, holder: str = "") -> bool:
        """Take a slot now if one is :meth:`free` (held by ``holder``, if given); False
        (nothing taken) else."""
        if not self.free():
            return False
        self._take(holder)
        return True

    async def take_when_free(self, holder: str = "") -> None:
        """Take a slot once one is free and nobody waits: after every call waiting now or
        arriving meanwhile (a Stop message yields to answers)."""
        while not self.take_now(holder):  # noqa: ASYNC110 - waits for others, not for an event
            await asyncio.sleep(max(LOW_PRIORITY_POLL, self._delay()))

    def holds(self, holder: str) -> bool:
        """Whether ``holder`` holds a slot of this lane."""
        self._refill(time.monotonic())
        return bool(self._held.get(holder))

    def spend(self, holder: str) -> bool:
        """The call of a slot ``holder`` holds goes now: False if it holds none."""
        if not self.holds(holder):
            return False
        self._held[holder].pop(0)
        if not self._held[holder]:
            del self._held[holder]
        return True

    def block(self, seconds: float) -> None:
        """Slack said 429: no call for ``seconds``, and no burst right after."""
        now = time.monotonic()
        self._refill(now)
        self.blocked_until = max(self.blocked_until, now + seconds)
        self.tokens = min(self.tokens, 0.0)

    def _take(self, holder: str) -> None:
        self.tokens -= 1
        if holder:
            self._held.setdefault(holder, []).append(time.monotonic())

    def _let_go(self, now: float) -> None:
        for holder, taken in list(self._held.items()):
            if taken[0] < now - HOLD_SECONDS:
                self._held[holder] = kept = [t for t in taken if t >= now - HOLD_SECONDS]
                if not kept:
                    del self._held[holder]

    def _delay(self) -> float:
        now = time.monotonic()
        self._refill(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second

    def _refill(self, now: float) -> None:
        """Fill the bucket up to now (before what is held changes: it bounds the fill)."""
        if now > self.blocked_until:
            since = now - max(self.stamp, self.blocked_until)
            room = self.burst - sum(len(taken) for taken in self._held.values())
            if self.tokens < room:
                self.tokens = min(room, self.tokens + since * self.per_second)
        self.stamp = now
        self._let_go(now)


class WorkspaceBudget:
    """One workspace's lanes: each method's calls wait in its own, posts in their channel's.

    ``limited=False`` keeps no lane (``SLACK_RATE_BUDGET=0``): calls go at once, for a
    Slack that enforces nothing (the benchmarks' stand-in)."""

    def __init__(self, *, limited: bool = True) -> None:
        self.limited = limited
        self._lanes: dict[str, Lane] = {}

    def lane(self, method: str, channel: str = "") -> Lane | None:
        """The lane of ``method`` (of ``channel`` for posts); None for a method not budgeted."""
        if not self.limited:
            return None
        if method == POST:
            name, rate, burst = f"{POST}:{channel}", POSTS_PER_SECOND, POST_BURST
        elif method in METHOD_TIERS:
            name, rate = method, TIER_PER_MINUTE[METHOD_TIERS[method]] / 60
            burst = max(1.0, rate * BURST_SECONDS)
        else:
            return None
        if name not in self._lanes:
            self._lanes[name] = Lane(rate, burst)
        return self._lanes[name]

    async def acquire(self, method: str, channel: str, thread: str) -> None:
        """Wait for a call of ``method`` in ``thread``'s turn (a slot it holds, if any)."""
        lane = self.lane(method, channel)
        if lane is not None and not lane.spend(thread):
            await lane.take()

    def take_now(self, method: str, channel: str, thread: str) -> bool:
        """Whether ``thread`` may call ``method`` now without waiting (a slot it holds, or a
        free one, which it then holds for its next call of ``method``)."""
        lane = self.lane(method, channel)
        return lane is None or lane.holds(thread) or lane.take_now(thread)

    def has_room(self, method: str, channel: str = "", thread: str = "") -> bool:
        """Whether a call of ``method`` (by ``thread``, which may hold a slot of it) could
        go now (nothing is taken)."""
        lane = self.lane(method, channel)
        return lane is None or lane.holds(thread) or lane.free()

    async def reserve_last(self, method: str, channel: str, thread: str) -> None:
        """Take ``thread``'s next slot of ``method`` after every call of it waiting, and
        those arriving meanwhile (low priority); its next call of it won't wait."""
        if lane := self.lane(method, channel):
            await lane.take_when_free(thread)

    async def reserve(self, method: str, channel: str, thread: str) -> None:
        """Take ``thread``'s next slot of ``method`` now; its next call of it won't wait."""
        lane = self.lane(method, channel)
        if lane is not None and not lane.holds(thread):
            await lane.take(thread)

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
        self._whole: bool | None = None  # decided at the answer's first text write
        self._next_text = 0.0

    async def wait(self, method: str = "") -> None:
        return None

    @property
    def writing(self) -> bool:
        """Whether the renderer has begun writing the answer's text."""
        return self._next_text > 0

    def show_whole(self) -> None:
        """This answer is shown whole when done, whatever room the budget has later."""
        self._whole = True

    def whole(self) -> bool:
        """Whether this answer is shown whole when done, decided at its first text write:
        when the workspace's ``chat.update`` has no room then, its edits would only wait."""
        if self._whole is None:
            self._whole = not self.budget.has_room("chat.update", thread=self.thread)
        return self._whole

    async def ready(self, method: str = "") -> None:
        delay = self._next_text - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        api = TEXT_CALLS.get(method)
        if api == "chat.startStream":  # never waited for: without a slot now, no stream
            self.budget.take_now(api, self.channel, self.thread)
        elif api in ("chat.update", POST) and self.whole():
            pass  # nothing is shown until the answer is done: no slot is held for it
        elif api:
            await self.budget.reserve(api, self.channel, self.thread)
        self._next_text = time.monotonic() + self.interval

    def penalize(self, seconds: float, method: str = "") -> None:
        return None
