"""The Surface contract: what the runtime needs from one chat thread, in one place.

A :class:`Surface` is one chat thread as the renderer writes to it: post, edit, a
compact line per tool call, an approval card, a notice. Optional capabilities
(:class:`NativeStream`, :class:`StreamSteps`, :class:`WorkingStatus`,
:class:`Receipts`, :class:`Deletions`, :class:`StopControls`, :class:`Attachments`,
:class:`ApprovalCards`, :class:`FeedbackButtons`, :class:`Typing`, :class:`ToolSteps`,
:class:`FileAccess`, :class:`JobCards`, :class:`Pings`, :class:`DirectMessages`,
:class:`ThreadHistory`, :class:`PlatformSessions`) are
detected with ``isinstance``, never assumed. Every call goes through
:func:`call_surface`, behind the surface's :class:`Gate` (a per-channel
:class:`RateGate`, or a platform's own budget per method), retried after a 429
(:class:`RateLimited`) or a 5xx (:class:`PlatformUnavailable`).

This is the bottom of the runtime's output: the renderer, the approval flow and the job
room write through it. How a platform is found and wired (its front end, its surfaces
for workers) is :mod:`bot.platforms`, above the runtime.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent import events as ev
from bot.telemetry.metrics import PLATFORM_CALLS, RATE_LIMITED

if TYPE_CHECKING:
    from datetime import datetime

    from bot.attachments import SharedFile
    from bot.jobs.card import JobCard
    from bot.store.approvals import ApprovalRecord

logger = logging.getLogger(__name__)

MAX_RATE_RETRIES = 6
UNAVAILABLE_BACKOFF = 0.5
"""First wait after a platform 5xx; doubled each time, with jitter."""


class RateLimited(Exception):
    """A platform said 429; wait ``retry_after`` seconds before the next call."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:.1f}s")
        self.retry_after = retry_after


class PlatformUnavailable(Exception):
    """A platform answered 5xx or timed out: the call is retried with backoff."""


@runtime_checkable
class Gate(Protocol):
    """What :func:`call_surface` and the renderer wait on before a surface call.

    ``method`` names the surface method about to be called (``"edit"``,
    ``"stream_append"``…), so a platform may budget each kind of call on its own.
    """

    async def wait(self, method: str = "") -> None:
        """Take the turn of one call of ``method``."""
        ...

    async def ready(self, method: str = "") -> None:
        """Wait until a call of ``method`` could go (the renderer then shows its newest text)."""
        ...

    def penalize(self, seconds: float, method: str = "") -> None:
        """The platform refused ``method`` (a 429, a 5xx): no such call for ``seconds``."""
        ...


class RateGate:
    """Spaces a channel's calls at least ``interval`` seconds apart, longer after a 429.

    It ignores ``method``: every call of the channel shares its pace (a :class:`Gate`).
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self, method: str = "") -> None:
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = time.monotonic() + self.interval

    async def ready(self, method: str = "") -> None:
        """Wait until a call could go, without taking its turn."""
        delay = self._next - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def penalize(self, seconds: float, method: str = "") -> None:
        self._next = max(self._next, time.monotonic() + seconds)


class ChannelGates:
    """A surface factory's rate gates: one per channel, shared by the channel's threads."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._gates: dict[Hashable, RateGate] = {}

    def __call__(self, channel: Hashable) -> RateGate:
        if channel not in self._gates:
            self._gates[channel] = RateGate(self.interval)
        return self._gates[channel]


@runtime_checkable
class Surface(Protocol):
    """The few platform calls a thread needs. Raise :class:`RateLimited` on a 429."""

    max_chars: int
    gate: Gate

    async def post(self, text: str, *, final: bool = False) -> str: ...
    async def edit(self, ref: str, text: str, *, final: bool = False) -> None: ...
    async def post_line(self, ref: str | None, text: str) -> str: ...
    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]: ...
    async def post_notice(self, text: str) -> None: ...


class StreamUnavailable(Exception):
    """A native stream was refused (e.g. not enabled for the app): fall back to edits."""


class StreamClosed(Exception):
    """The platform ended a native stream early (too old, too long): the refused text
    was not shown, and the stream takes no more."""


@runtime_checkable
class NativeStream(Protocol):
    """Optional capability of a :class:`Surface`: an append-only streamed message.

    ``stream_start`` raises :class:`StreamUnavailable` when the platform refuses;
    ``stream_append`` and ``stream_stop`` raise :class:`StreamClosed` when the platform
    ended the stream. A stream is closed once ``stream_max_seconds`` old (the rest goes
    on in a new message), and no call carries more than ``stream_max_append`` characters.
    """

    stream_max_seconds: float
    stream_max_append: int

    async def stream_start(self, text: str) -> str: ...
    async def stream_append(self, ref: str, text: str) -> None: ...
    async def stream_stop(self, ref: str) -> None: ...


@dataclass(frozen=True)
class Step:
    """One step of a turn's work shown inside a native stream: a tool call or a plan item.

    ``state`` is ``pending`` (waits, e.g. for an approval), ``running``, ``done`` or
    ``failed``; ``output`` is a one-line result; ``sources`` are ``(url, label)`` pairs
    (a job's page, a repo).
    """

    id: str
    title: str
    state: str
    output: str = ""
    details: str = ""
    sources: tuple[tuple[str, str], ...] = ()


@runtime_checkable
class StreamSteps(Protocol):
    """Optional capability of a :class:`NativeStream` surface: steps inside the stream.

    ``stream_steps`` shows ``steps`` (new, or updated by ``id``) in the stream ``ref``
    and returns its ref; with ``ref`` None it starts a stream. ``plan`` titles the plan
    the steps belong to. It raises :class:`StreamUnavailable` and :class:`StreamClosed`
    as :class:`NativeStream` does.
    """

    async def stream_steps(
        self, ref: str | None, steps: Sequence[Step], plan: str | None = None
    ) -> str: ...


class StatusUnavailable(Exception):
    """No working status now: ``lasting`` when the platform won't show one at all (a scope
    missing), else only this time (an error, a rate budget too busy to wait for)."""

    def __init__(self, reason: str, *, lasting: bool = False) -> None:
        super().__init__(reason)
        self.lasting = lasting


@runtime_checkable
class WorkingStatus(Protocol):
    """Optional capability of a :class:`Surface`: the thread shows that the bot is working,
    outside its messages (Slack's assistant thread status).

    ``set_status`` shows ``text`` with ``loading`` lines shown in turn, and raises
    :class:`StatusUnavailable` where it can't, or not within ``wait`` seconds of the
    platform's rate budget (None: the surface's own wait), then a placeholder says it;
    the platform drops a status not set again within ``status_refresh_seconds``.
    ``clear_status`` is called when the turn ends or waits for an approval: the thread
    stops showing work (the status, and any Stop control shown with it).
    """

    status_refresh_seconds: float

    async def set_status(
        self, text: str, loading: Sequence[str] = (), *, wait: float | None = None
    ) -> None: ...
    async def clear_status(self) -> None: ...


@runtime_checkable
class Receipts(Protocol):
    """Optional capability of a :class:`Surface`: a person's message shows that it reached
    the bot (Slack's 👀 reaction); ``message`` is the platform's id of it."""

    async def mark_received(self, message: str) -> None: ...


@runtime_checkable
class Deletions(Protocol):
    """Optional capability of a :class:`Surface`: delete a message the bot posted (a
    placeholder no answer took; what a dead worker's turn left that its taker replaced)."""

    async def delete(self, ref: str) -> None: ...


@dataclass(frozen=True)
class Written:
    """A message of the bot's as the thread's history shows it: its ref, the text it shows,
    and whether it is a Stop control (:class:`StopControls`) rather than answer text."""

    ref: str
    text: str
    control: bool = False


@runtime_checkable
class ThreadHistory(Protocol):
    """Optional capability of a :class:`Surface`: read the thread back from the platform.

    ``written_since`` lists, oldest first, the bot's messages made at or after ``since``
    (seconds since the epoch) that may hold an answer's text (answer messages, native
    streams, placeholders) or a Stop control; tool lines, cards and final answers with
    their 👍 / 👎 are left out where the platform tells them apart. A worker taking a
    turn over learns this way of a message its dead worker made but never noted.
    """

    async def written_since(self, since: float) -> list[Written]: ...


@runtime_checkable
class StopControls(Protocol):
    """Optional capability of a :class:`NativeStream` surface: a message of its own carries
    the Stop button beside a stream (a stream holds no button). ``stop_control`` is its ref
    while shown (None else), so a worker taking the turn over can delete it."""

    stop_control: str | None


@runtime_checkable
class Attachments(Protocol):
    """Optional capability of a :class:`Surface`: a file in the thread (a long tool
    output in full, an image a tool made)."""

    async def attach_file(self, filename: str, content: bytes, title: str) -> None: ...


@runtime_checkable
class ApprovalCards(Protocol):
    """Optional capability of a :class:`Surface`: redraw a posted approval card.

    ``record`` is the approval as stored (its ``platform_ref`` is what
    ``post_approval`` returned): decisions, who made them, and its status.
    """

    async def update_approval(self, record: ApprovalRecord) -> None: ...


@runtime_checkable
class FeedbackButtons(Protocol):
    """Optional capability of a :class:`Surface`: 👍 / 👎 under a turn's final answer.

    Once a turn completes, the renderer calls ``final_answer`` with the last message
    of its answer (``ref``, as ``post`` or ``stream_start`` returned it), the text that
    message shows, and the turn's id, which a click hands to :meth:`TurnRunner.rate`.
    """

    async def final_answer(self, ref: str, text: str, turn_id: str) -> None: ...


@runtime_checkable
class Typing(Protocol):
    """Optional capability of a :class:`Surface`: a typing indicator while the model
    thinks. One ``typing`` call shows it for a while; the renderer repeats it every
    ``typing_seconds`` until something is shown."""

    typing_seconds: float

    async def typing(self) -> None: ...


@runtime_checkable
class ToolSteps(Protocol):
    """Optional capability of a :class:`Surface`: every tool line of a turn in one
    message, drawn again as lines change (instead of a ``post_line`` message per call).

    ``ref`` is None for the first drawing (returns the message's ref); ``final`` is
    set once the turn has ended (no Stop button then).
    """

    async def post_steps(self, ref: str | None, lines: list[str], *, final: bool) -> str: ...


@runtime_checkable
class FileAccess(Protocol):
    """Optional capability of a :class:`Surface`: files shared in its thread need the
    platform's credentials to download (Slack's bot token); ``with_access`` adds them."""

    def with_access(self, file: SharedFile) -> SharedFile: ...


@runtime_checkable
class JobCards(Protocol):
    """Optional capability of a :class:`Surface`: a job's card, one message edited in place.

    The platform draws ``card`` (:func:`bot.jobs.card.card_lines` within its length
    limit, times as of ``now``) with a Logs button, and a Cancel button until the job
    ended (ids from :func:`bot.jobs.room.job_button_id`). ``ref`` is None the first
    time; the message's ref is returned.
    """

    async def post_job_card(self, ref: str | None, card: JobCard, now: datetime) -> str: ...


@runtime_checkable
class MetricCharts(Protocol):
    """Optional capability of a :class:`JobCards` surface: the card charts the job's metrics
    (``card.metrics``) natively; ``charted`` says whether the card it drew last did (else
    the job's summary attaches the PNG chart)."""

    charted: bool


@runtime_checkable
class Pings(Protocol):
    """Optional capability of a :class:`Surface`: a notice that notifies the people it is for.

    ``who`` are ids as the approval rules name them: user ids, Slack user groups
    (``S…``) or Discord roles (``role:<id>``); the platform mentions them after ``text``.
    """

    async def post_ping(self, text: str, who: Sequence[str]) -> None: ...


@runtime_checkable
class DirectMessages(Protocol):
    """Optional capability of a :class:`Surface`: a private message to one person."""

    async def direct_message(self, user_id: str, text: str) -> None: ...


@runtime_checkable
class PlatformSessions(Protocol):
    """Optional capability of a :class:`Surface`: the platform keeps a session of its own
    for the thread (Slack's agent sessions); ``close_session`` ends it once the bot's
    session is over (``new``, or its TTL ran out: :mod:`bot.turns.expiry`)."""

    async def close_session(self) -> None: ...


async def call_surface(surface: Surface, method: Any, *args: Any, **kwargs: Any) -> Any:
    """One platform call behind the surface's rate gate, retried after a 429 or a 5xx."""
    name = getattr(method, "__name__", "call")
    for attempt in range(MAX_RATE_RETRIES):
        await surface.gate.wait(name)
        PLATFORM_CALLS.labels(name).inc()
        try:
            return await method(*args, **kwargs)
        except RateLimited as limited:
            RATE_LIMITED.labels("platform").inc()
            logger.info("rate limited: waiting %.1fs", limited.retry_after)
            surface.gate.penalize(limited.retry_after, name)
        except PlatformUnavailable as exc:
            delay = UNAVAILABLE_BACKOFF * 2**attempt * random.uniform(0.5, 1.0)
            logger.info("platform unavailable (%s): retrying in %.1fs", exc, delay)
            surface.gate.penalize(delay, name)
    raise RuntimeError(f"the platform refused {name} {MAX_RATE_RETRIES} times")


SurfaceFactory = Callable[[str, dict[str, Any]], Surface]
"""Builds the surface of a session key; the dict is the input's platform ref."""


@runtime_checkable
class Closing(Protocol):
    """Optional capability of a surface factory: connections to close with the runtime."""

    async def aclose(self) -> None: ...
