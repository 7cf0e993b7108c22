"""Figure 1 — Slack HTTP: event POST → HTTP 200 ack, and event → placeholder posted.

Mentions go out open-loop at a set rate, each in its own channel (so the
per-channel gate never queues placeholders), to the bot in a child process.
The baseline is a bare aiohttp handler in a child process at the same rates.
Every event is then accounted for: answered (its answer in the thread), refused (a
reply saying why), still queued or running in Redis when the drain time ran out, or
lost (none of these).

Then one workspace under Slack's limits (the stand-in answers 429 past them) with native
streaming on: mentions at the lowest rate, each in its own channel, must all be answered
within :data:`LIMITED_DRAIN` seconds of the burst, none lost, no 429: answers that find
``chat.startStream`` (Tier 2) spent are posted and edited, or shown whole when done.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from redis.asyncio import Redis

from adapters.slack.keys import session_key
from bench.figure import Figure, below, step, until
from bench.proc import Usage
from bench.rig import (
    SECRET,
    BotProcess,
    TimedSlack,
    bot_env,
    last_marker,
    redis_server,
    standins,
    streamed,
)
from bench.slackload import Mention, Sent, mentions, post_all
from bench.stats import ms, ratio, summary
from bot.output.messages import STORE_DOWN, slow_down, too_long
from bot.store.sessions import SessionStore
from tests.standins.slack import TEAM, SlackSender

ANSWER_CHUNKS = 3
LIMITED_DRAIN = 60.0
"""Seconds after the burst by which every event in one workspace under Slack's limits
must be answered."""
REFUSALS = (STORE_DOWN, too_long(1, 1).split("(")[0], slow_down(1).split(":")[0])
"""How each refusal the bot replies with begins (rate limits are off in the bench, so
these come only from a failing store or an input the bot can't take)."""


def _placeholders(slack, sent: list[Sent]) -> list[float]:
    """Event sent → its thread shows the bot works (the thread status, or a "thinking…"
    placeholder where the status's rate budget is too busy), in ms."""
    posted: dict[tuple[str, str], float] = {}
    for c in slack.timeline:
        if c.status == 200 and c.method in ("chat.postMessage", "assistant.threads.setStatus"):
            where = (c.args.get("channel") or c.args.get("channel_id"), c.args.get("thread_ts"))
            posted.setdefault(where, c.at)
    keys = ((s.mention.channel, s.mention.ts, s.at) for s in sent)
    return [ms(posted[(ch, ts)] - at) for ch, ts, at in keys if (ch, ts) in posted]


def _refused(slack: TimedSlack, channels: Iterable[str]) -> set[str]:
    """The channels where the bot replied with a refusal."""
    wanted = set(channels)
    return {
        c.args.get("channel")
        for c in slack.timeline
        if c.status == 200
        and c.method in ("chat.postMessage", "chat.update")
        and c.args.get("channel") in wanted
        and str(c.args.get("text", "")).startswith(REFUSALS)
    }


async def _outcomes(slack: TimedSlack, store: SessionStore, batch: list[Mention]) -> dict:
    """Each event answered (its answer shows its last chunk), refused, still queued or
    running, or lost."""
    channels = [m.channel for m in batch]
    answered = shown_whole(slack, channels)
    refused = _refused(slack, channels) - answered
    open_ = [m for m in batch if m.channel not in answered | refused]
    waiting = [
        m for m in open_ if await store.busy(session_key(TEAM, {"channel": m.channel, "ts": m.ts}))
    ]
    return {
        "answered": len(answered),
        "refused": len(refused),
        "still_queued": len(waiting),
        "lost": len(open_) - len(waiting),
    }


async def run(rates: tuple[int, ...], seconds: float, drain_timeout: float) -> Figure:
    fig = Figure(
        "slack_http",
        "Slack HTTP: event → ack, event → placeholder",
        {"rates_per_s": list(rates), "seconds_per_rate": seconds, "answer_chunks": ANSWER_CHUNKS},
    )
    sender = SlackSender("", SECRET)
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins() as (llm, slack):
            llm.default = streamed(ANSWER_CHUNKS, 0)
            env = bot_env(redis.url, llm, slack, Path(data))
            baseline = {}
            async with BotProcess(env, role="bare") as bare:
                for rate in rates:
                    step(f"baseline (no bot work) at {rate} events/s")
                    batch = mentions(sender, max(1, int(rate * seconds)), f"CB{rate}X")
                    sent = await post_all(bare.events_url, batch, rate)
                    baseline[rate] = summary([ms(s.latency) for s in sent])
            store = SessionStore(Redis.from_url(redis.url))
            async with BotProcess(env) as bot:
                warm = mentions(sender, 3, "CWARMX")
                await post_all(bot.events_url, warm)
                await until(lambda: len(shown_whole(slack, [m.channel for m in warm])) == 3, 30)
                for rate in rates:
                    step(f"the bot at {rate} events/s")
                    fig.results[f"{rate}/s"] = await _at_rate(
                        bot, slack, store, sender, rate, seconds, drain_timeout, baseline[rate]
                    )
            await store.redis.aclose()
    fig.results["limits enforced"] = limited = await _limited(sender, min(rates), seconds)
    fig.target(
        f"one workspace under Slack's limits at {min(rates)} events/s: answered within "
        f"{LIMITED_DRAIN:g} s of the burst, lost, 429s",
        "all, 0, 0",
        [limited["answered"], limited["outcomes"]["lost"], limited["rate_limited_429"]],
        limited["answered"] == limited["events"]
        and limited["outcomes"]["lost"] == 0
        and limited["rate_limited_429"] == 0,
    )
    top = fig.results.get(f"{max(rates)}/s", {})
    fig.target(
        f"ack p99 at {max(rates)} events/s",
        "< 50 ms",
        top.get("ack_ms", {}).get("p99"),
        below(top.get("ack_ms", {}).get("p99"), 50),
    )
    rated = [fig.results[f"{rate}/s"] for rate in rates]
    lost = [r["outcomes"]["lost"] for r in rated]
    fig.target("events lost (every rate)", "0", lost, all(n == 0 for n in lost) if lost else None)
    placeholder_p50 = [r["placeholder_ms"]["p50"] for r in rated]
    fig.target(
        "placeholder p50 (every rate)",
        "< 150 ms",
        placeholder_p50,
        all(below(p, 150) for p in placeholder_p50) if placeholder_p50 else None,
    )
    return fig


def shown_whole(slack: TimedSlack, channels: Iterable[str]) -> set[str]:
    """The channels whose answer shows its last chunk now, however it was written (a
    native stream, a post edited, or a post of the whole answer)."""
    wanted = set(channels)
    return {
        m.channel
        for m in list(slack.messages.values())
        if m.channel in wanted and last_marker(m.text) >= ANSWER_CHUNKS
    }


async def _limited(sender: SlackSender, rate: int, seconds: float) -> dict:
    """Mentions at ``rate`` for ``seconds`` in one workspace under Slack's limits."""
    step(f"the bot at {rate} events/s, one workspace under Slack's limits, native streams on")
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins() as (llm, slack):
            llm.default = streamed(ANSWER_CHUNKS, 20)
            slack.streaming_enabled = True
            slack.enforce_rate_limits()
            env = bot_env(redis.url, llm, slack, Path(data), slack_native_streaming=1)
            store = SessionStore(Redis.from_url(redis.url))
            async with BotProcess(env) as bot:
                batch = mentions(sender, max(1, int(rate * seconds)), f"CL{rate}X")
                channels = [m.channel for m in batch]
                await post_all(bot.events_url, batch, rate)
                burst_end = time.monotonic()
                await until(lambda: len(shown_whole(slack, channels)) == len(batch), LIMITED_DRAIN)
                after = time.monotonic() - burst_end
                answered = shown_whole(slack, channels)
                outcomes = await _outcomes(slack, store, batch)
            await store.redis.aclose()
            methods: dict[str, int] = {}
            for call in slack.timeline:
                methods[call.method] = methods.get(call.method, 0) + 1
    return {
        "events": len(batch),
        "answered": len(answered),
        "seconds_after_burst": round(after, 1),
        "outcomes": outcomes,
        "rate_limited_429": sum(slack.rate_limited.values()),
        "calls": methods,
    }


async def _at_rate(bot, slack, store, sender, rate, seconds, drain_timeout, baseline) -> dict:
    batch = mentions(sender, max(1, int(rate * seconds)), f"C{rate}X")
    await bot.probe()  # start the inside view afresh
    usage = Usage(bot.pid).start()
    started = time.monotonic()
    sent = await post_all(bot.events_url, batch, rate)
    channels = [m.channel for m in batch]

    def replied() -> int:
        return len(shown_whole(slack, channels) | _refused(slack, channels))

    await until(lambda: replied() == len(batch), drain_timeout)
    drained = time.monotonic() - started
    done = len(shown_whole(slack, channels))
    await usage.stop()
    ack = summary([ms(s.latency) for s in sent])
    inside = await bot.probe()
    return {
        "events": len(batch),
        "non_200": sum(1 for s in sent if s.status != 200),
        "ack_ms": ack,
        "baseline_ack_ms": baseline,
        "ack_vs_baseline": {q: ratio(ack[q], baseline[q]) for q in ("p50", "p99")},
        "server_ack_ms": summary(inside["acks_ms"]),
        "bot_loop_lag_ms": summary(inside["loop_lag_ms"]),
        "placeholder_ms": summary(_placeholders(slack, sent)),
        "outcomes": await _outcomes(slack, store, batch),
        "turns_answered": done,
        "turns_per_s": round(done / drained, 1),
        "bot_cpu_percent": usage.cpu_percent,
        "bot_peak_rss_mb": usage.peak_rss_mb,
    }
