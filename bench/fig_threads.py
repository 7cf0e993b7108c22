"""Figure 7 — threads sharing Slack's budget: how often each thread's answer visibly moves
when 1, 6 and 20 threads stream in one channel at once, natively and by chat.update, and
the Slack calls per minute by method against each method's tier.

The Slack surfaces and the shared renderer of this process (the path a turn renders
through) against the Slack stand-in enforcing Slack's limits; no LLM and no Bolt: each
thread gets numbered words at a steady rate, as a turn's model would send them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.surface import SlackSurfaces
from agent import events as ev
from bench.figure import Figure, step
from bench.rig import WORD, TimedSlack
from bench.stats import summary
from bot.output.render import StreamRenderer
from bot.session_key import SessionKey
from tests.standins.slack import METHOD_TIERS, TEAM, RateLimits

CHANNEL = "CTHREADS"
VISIBLE = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream")
"""Calls that change what a person sees of an answer."""
GOAL_SECONDS = 2.0
FIRST_GOAL_SECONDS = 2.5
"""No thread waits longer than this for its first visible words because of the bot's pacing."""
EDIT_INTERVAL = 1.0
"""``SLACK_EDIT_INTERVAL_MS``'s default: a thread's own pace."""


async def stream_thread(surfaces: SlackSurfaces, n: int, words: int, rate: float) -> None:
    """One turn's answer: ``words`` numbered words at ``rate`` a second, then its end."""
    key = SessionKey("slack", TEAM, CHANNEL, f"1700000000.{n:06d}").encode()
    renderer = StreamRenderer(surfaces(key, {"user": "U0BENCH"}))
    await renderer.handle(ev.Processing())
    start = time.monotonic()
    for k in range(1, words + 1):
        await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
        await renderer.handle(ev.AssistantChunk(content=WORD.format(k)))
    await renderer.handle(ev.AssistantStreamEnd())
    await renderer.handle(ev.TurnComplete())
    await renderer.close()


def thread_of(slack: TimedSlack, args: dict[str, Any]) -> str | None:
    if thread := args.get("thread_ts"):
        return thread
    message = slack.messages.get(args.get("ts", ""))
    return message.thread_ts if message else None


def updates(slack: TimedSlack) -> dict[str, list[float]]:
    """When each thread's answer visibly moved (answers only: not lines, not Stop messages)."""
    seen: dict[str, list[float]] = {}
    for call in slack.timeline:
        blocks = call.args.get("blocks") or [{"type": "section"}]
        answer = call.status == 200 and call.method in VISIBLE and blocks[0]["type"] == "section"
        if answer and (thread := thread_of(slack, call.args)):
            seen.setdefault(thread, []).append(call.at)
    return seen


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def per_minute(slack: TimedSlack, seconds: float, limits: RateLimits) -> dict[str, Any]:
    """Calls per minute by method, with the tier's allowance and the 429s."""
    counts = Counter(c.method for c in slack.timeline)
    refused = Counter(c.method for c in slack.timeline if c.status == 429)
    return {
        method: {
            "per_min": round(count * 60 / seconds, 1),
            "tier": METHOD_TIERS.get(method),
            "allowed_per_min": limits.per_minute(method)
            or f"{limits.channel_per_second * 60:g} per channel",
            "429": refused[method],
        }
        for method, count in sorted(counts.items())
    }


async def run_case(native: bool, threads: int, words: int, rate: float) -> dict[str, Any]:
    limits = RateLimits()
    async with TimedSlack() as slack:
        slack.streaming_enabled = native
        slack.enforce_rate_limits(limits)
        client = AsyncWebClient(token="xoxb-bench", base_url=slack.base_url)
        surfaces = SlackSurfaces(client, interval=EDIT_INTERVAL, native_streaming=native)
        begin = time.monotonic()
        await asyncio.gather(*(stream_thread(surfaces, n, words, rate) for n in range(threads)))
        seconds = time.monotonic() - begin
    shown = updates(slack)
    return {
        "threads_shown": len(shown),
        "first_visible_s": summary([times[0] - begin for times in shown.values()], digits=2),
        "interval_s": summary([g for times in shown.values() for g in gaps(times)], digits=2),
        "worst_thread_p50_s": max(
            (summary(gaps(times), digits=2)["p50"] or 0.0 for times in shown.values()),
            default=None,
        ),
        "seconds": round(seconds, 1),
        "calls_per_min": per_minute(slack, seconds, limits),
    }


async def run(threads: tuple[int, ...], words: int, rate: float) -> Figure:
    fig = Figure(
        "thread_budget",
        "Threads sharing Slack's budget: interval between visible updates, calls/min vs tier",
        {"threads": list(threads), "words": words, "words_per_s": rate, "channel": "one"},
    )
    for native in (True, False):
        mode = "native" if native else "chat.update"
        for n in threads:
            step(f"{mode}: {n} thread(s) streaming {words} words at {rate:g}/s")
            fig.results[f"{mode} × {n}"] = await run_case(native, n, words, rate)
    six = fig.results.get(f"native × {6 if 6 in threads else max(threads)}")
    if six:
        p99 = six["interval_s"]["p99"]
        fig.target(
            f"native, {6 if 6 in threads else max(threads)} threads in one channel: "
            "interval between visible updates (p99)",
            f"≤ {GOAL_SECONDS:g} s",
            p99,
            None if p99 is None else p99 <= GOAL_SECONDS,
        )
    n = 6 if 6 in threads else max(threads)
    for mode in ("native", "chat.update"):
        if case := fig.results.get(f"{mode} × {n}"):
            first = case["first_visible_s"]["max"]
            fig.target(
                f"{mode}, {n} threads in one channel: first visible text (max)",
                f"≤ {FIRST_GOAL_SECONDS:g} s",
                first,
                None if first is None else first <= FIRST_GOAL_SECONDS,
            )
    refused = sum(m["429"] for case in fig.results.values() for m in case["calls_per_min"].values())
    fig.target("429s from Slack's limits, every case", "0", refused, refused == 0)
    fig.notes.append(
        "Intervals count from a thread's first visible text to its last; the wait for the "
        "first (a chat.startStream or chat.postMessage slot) is first_visible_s. Calls per "
        "minute over short runs include Slack's bursts, so may read above the tier."
    )
    fig.notes.append(
        "Slack's limits as the stand-in enforces them: chat.appendStream Tier 4 (100/min), "
        "chat.update and setStatus Tier 3 (50/min), chat.startStream and stopStream Tier 2 "
        "(20/min) per workspace; chat.postMessage 1/s per channel."
    )
    return fig
