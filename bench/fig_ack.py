"""Figure 1 — Slack HTTP: event POST → HTTP 200 ack, event → placeholder, event → answer.

Mentions go out open-loop at a set rate, each in its own channel, to the bot in a
child process with its Slack rate budget off (``SLACK_RATE_BUDGET=0``; the stand-in
enforces nothing), so the process alone sets the pace: it runs ``WORKER_CONCURRENCY``
turns at once (the default, 8) and the rest wait in Redis. The baseline is a bare
aiohttp handler in a child process at the same rates. Every accepted event (HTTP 200)
is then accounted for: answered (its answer in the thread), refused (a reply saying
why), still queued or running in Redis when the drain time ran out, or lost (none of
these). A row runs the top rate with the budget on against a stand-in enforcing
Slack's limits (one workspace, Slack's limits).

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
from typing import Any

from redis.asyncio import Redis

from adapters.slack.keys import session_key
from bench.figure import Figure, answered_at, below, finished, step, until
from bench.proc import Usage
from bench.rig import (
    ONE_WORKSPACE,
    SECRET,
    BotProcess,
    TimedSlack,
    bot_env,
    redis_server,
    standins,
    streamed,
)
from bench.slackload import Mention, Sent, mentions, post_all
from bench.stats import ms, ratio, summary
from bot.output.messages import STORE_DOWN, slow_down, too_long
from bot.settings import Settings
from bot.store.sessions import SessionStore
from tests.standins.slack import TEAM, SlackSender

ANSWER_CHUNKS = 3
LOST_SHOWN = 5
"""Lost events whose Slack calls the results list (to tell why)."""
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


async def _outcomes(
    slack: TimedSlack, store: SessionStore, accepted: list[Mention]
) -> dict[str, Any]:
    """Each accepted event answered, refused, still queued or running, or lost."""
    channels = [m.channel for m in accepted]
    answered = finished(slack, channels, ANSWER_CHUNKS)
    refused = _refused(slack, channels) - answered
    open_ = [m for m in accepted if m.channel not in answered | refused]
    waiting = [
        m for m in open_ if await store.busy(session_key(TEAM, {"channel": m.channel, "ts": m.ts}))
    ]
    lost = [m.channel for m in open_ if m not in waiting]
    return {
        "accepted": len(accepted),
        "answered": len(answered),
        "refused": len(refused),
        "still_queued": len(waiting),
        "lost": len(lost),
        "lost_calls": {ch: _calls_in(slack, ch) for ch in lost[:LOST_SHOWN]},
    }


def _calls_in(slack: TimedSlack, channel: str) -> list[str]:
    """What the stand-in saw in ``channel``: each call's method, status and text's start."""
    return [
        f"{c.method} {c.status} {str(c.args.get('text', ''))[:40]!r}"
        for c in slack.timeline
        if channel in (c.args.get("channel"), c.args.get("channel_id"))
    ]


async def run(rates: tuple[int, ...], seconds: float, drain_timeout: float) -> Figure:
    top = max(rates)
    fig = Figure(
        "slack_http",
        "Slack HTTP: event → ack, event → placeholder, event → answer",
        {
            "rates_per_s": list(rates),
            "seconds_per_rate": seconds,
            "answer_chunks": ANSWER_CHUNKS,
            "worker_concurrency": Settings.model_fields["worker_concurrency"].default,
        },
    )
    sender = SlackSender("", SECRET)
    baseline = await _baseline(sender, rates, seconds)
    fig.results |= await _bot(sender, rates, seconds, drain_timeout, baseline, limits=False)
    budgeted = await _bot(sender, (top,), seconds, drain_timeout, baseline, limits=True)
    fig.results[f"{top}/s, {ONE_WORKSPACE}"] = budgeted[f"{top}/s"]
    limited = await _limited(sender, min(rates), seconds)
    lowest = fig.results[f"{min(rates)}/s"]["answer_ms"]
    for result in (fig.results[k] for k in fig.results if k != "limits enforced"):
        answer = result["answer_ms"]
        result[f"answer_vs_{min(rates)}_per_s"] = {
            q: ratio(answer[q], lowest[q]) for q in ("p50", "p99")
        }
    fig.results["limits enforced"] = limited
    _targets(fig, rates)
    return fig


def _targets(fig: Figure, rates: tuple[int, ...]) -> None:
    top = fig.results[f"{max(rates)}/s"]
    rows = [fig.results[f"{rate}/s"] for rate in rates]
    fig.target(
        f"ack p99 at {max(rates)} events/s",
        "< 50 ms",
        top["ack_ms"]["p99"],
        below(top["ack_ms"]["p99"], 50),
    )
    outcomes = top["outcomes"]
    fig.target(
        f"answered of accepted at {max(rates)} events/s",
        "all",
        [outcomes["answered"], outcomes["accepted"]],
        outcomes["answered"] == outcomes["accepted"],
    )
    lost = [r["outcomes"]["lost"] for r in rows]
    fig.target("events lost (every rate)", "0", lost, all(n == 0 for n in lost))
    placeholder_p50 = [r["placeholder_ms"]["p50"] for r in rows]
    fig.target(
        "placeholder p50 (every rate)",
        "< 150 ms",
        placeholder_p50,
        all(below(p, 150) for p in placeholder_p50),
    )
    fig.target(
        f"event → answer p50 / p99 at {max(rates)} events/s",
        "reported",
        [top["answer_ms"]["p50"], top["answer_ms"]["p99"]],
        None,
    )
    budgeted = fig.results[f"{max(rates)}/s, {ONE_WORKSPACE}"]
    fig.target(
        f"{ONE_WORKSPACE}, {max(rates)} events/s: answered of accepted, placeholder p50",
        "reported",
        [
            budgeted["outcomes"]["answered"],
            budgeted["outcomes"]["accepted"],
            budgeted["placeholder_ms"]["p50"],
        ],
        None,
    )
    limited = fig.results["limits enforced"]
    fig.target(
        f"{ONE_WORKSPACE}, {min(rates)} events/s, native streams: answered within "
        f"{LIMITED_DRAIN:g} s of the burst, lost, 429s",
        "all, 0, 0",
        [limited["answered"], limited["outcomes"]["lost"], limited["rate_limited_429"]],
        limited["answered"] == limited["events"]
        and limited["outcomes"]["lost"] == 0
        and limited["rate_limited_429"] == 0,
    )


def _events(rate: float, seconds: float) -> int:
    return max(1, int(rate * seconds))


async def _baseline(sender: SlackSender, rates: tuple[int, ...], seconds: float) -> dict:
    """Ack latency of a bare aiohttp handler (no bot work) at each rate."""
    baseline = {}
    async with BotProcess({}, role="bare") as bare:
        for rate in rates:
            step(f"baseline (no bot work) at {rate} events/s")
            batch = mentions(sender, _events(rate, seconds), f"CB{rate}X")
            sent = await post_all(bare.events_url, batch, rate)
            baseline[rate] = summary([ms(s.latency) for s in sent])
    return baseline


async def _bot(
    sender: SlackSender,
    rates: tuple[int, ...],
    seconds: float,
    drain_timeout: float,
    baseline: dict,
    *,
    limits: bool,
) -> dict:
    """The bot at each rate: its Slack budget on and Slack's limits enforced (``limits``),
    or both off."""
    where = ONE_WORKSPACE if limits else "budget off"
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins(limits=limits) as (llm, slack):
            llm.default = streamed(ANSWER_CHUNKS, 0)
            env = bot_env(redis.url, llm, slack, Path(data), rate_budget=limits)
            store = SessionStore(Redis.from_url(redis.url))
            results = {}
            async with BotProcess(env) as bot:
                warm = mentions(sender, 3, "CWARMX")
                await post_all(bot.events_url, warm)
                await until(lambda: len(finished(slack, [m.channel for m in warm], 3)) == 3, 30)
                for rate in rates:
                    step(f"the bot at {rate} events/s ({where})")
                    results[f"{rate}/s"] = await _at_rate(
                        bot, slack, store, sender, rate, seconds, drain_timeout, baseline[rate]
                    )
            await store.redis.aclose()
    return results


async def _at_rate(bot, slack, store, sender, rate, seconds, drain_timeout, baseline) -> dict:
    batch = mentions(sender, _events(rate, seconds), f"C{rate}X")
    await bot.probe()  # start the inside view afresh
    usage = Usage(bot.pid).start()
    started = time.monotonic()
    sent = await post_all(bot.events_url, batch, rate)
    accepted = [s for s in sent if s.status == 200]
    channels = [s.mention.channel for s in accepted]

    def replied() -> int:
        return len(finished(slack, channels, ANSWER_CHUNKS) | _refused(slack, channels))

    await until(lambda: replied() == len(accepted), drain_timeout)
    drained = time.monotonic() - started
    answered = answered_at(slack, channels, ANSWER_CHUNKS)
    await usage.stop()
    ack = summary([ms(s.latency) for s in sent])
    inside = await bot.probe()
    return {
        "events": len(batch),
        "non_200": len(sent) - len(accepted),
        "ack_ms": ack,
        "baseline_ack_ms": baseline,
        "ack_vs_baseline": {q: ratio(ack[q], baseline[q]) for q in ("p50", "p99")},
        "server_ack_ms": summary(inside["acks_ms"]),
        "bot_loop_lag_ms": summary(inside["loop_lag_ms"]),
        "placeholder_ms": summary(_placeholders(slack, accepted)),
        "answer_ms": summary(
            [
                ms(answered[s.mention.channel] - s.at)
                for s in accepted
                if s.mention.channel in answered
            ]
        ),
        "outcomes": await _outcomes(slack, store, [s.mention for s in accepted]),
        "turns_per_s": round(len(answered) / drained, 1),
        "drained_s": round(drained, 1),
        "bot_cpu_percent": usage.cpu_percent,
        "bot_peak_rss_mb": usage.peak_rss_mb,
        "rate_limited_429": sum(slack.rate_limited.values()),
    }


async def _limited(sender: SlackSender, rate: int, seconds: float) -> dict:
    """Mentions at ``rate`` for ``seconds`` in one workspace under Slack's limits."""
    step(f"the bot at {rate} events/s, one workspace under Slack's limits, native streams on")
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins(limits=True) as (llm, slack):
            llm.default = streamed(ANSWER_CHUNKS, 20)
            slack.streaming_enabled = True
            env = bot_env(redis.url, llm, slack, Path(data), slack_native_streaming=1)
            store = SessionStore(Redis.from_url(redis.url))
            async with BotProcess(env) as bot:
                batch = mentions(sender, max(1, int(rate * seconds)), f"CL{rate}X")
                channels = [m.channel for m in batch]
                await post_all(bot.events_url, batch, rate)
                burst_end = time.monotonic()
                await until(
                    lambda: len(finished(slack, channels, ANSWER_CHUNKS)) == len(batch),
                    LIMITED_DRAIN,
                )
                after = time.monotonic() - burst_end
                answered = finished(slack, channels, ANSWER_CHUNKS)
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
