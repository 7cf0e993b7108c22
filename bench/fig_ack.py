"""Figure 1 — Slack HTTP: event POST → HTTP 200 ack, and event → placeholder posted.

Mentions go out open-loop at a set rate, each in its own channel (so the
per-channel gate never queues placeholders), to the bot in a child process.
The baseline is a bare aiohttp handler in a child process at the same rates.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.figure import Figure, below, finished, step, until
from bench.proc import Usage
from bench.rig import SECRET, BotProcess, bot_env, redis_server, standins, streamed
from bench.slackload import Sent, mentions, post_all
from bench.stats import ms, ratio, summary
from tests.standins.slack import SlackSender

ANSWER_CHUNKS = 3


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
            async with BotProcess(env) as bot:
                warm = mentions(sender, 3, "CWARMX")
                await post_all(bot.events_url, warm)
                await until(lambda: len(finished(slack, [m.channel for m in warm], 3)) == 3, 30)
                for rate in rates:
                    step(f"the bot at {rate} events/s")
                    fig.results[f"{rate}/s"] = await _at_rate(
                        bot, slack, sender, rate, seconds, drain_timeout, baseline[rate]
                    )
    at200 = fig.results.get("200/s", {})
    fig.target(
        "ack p99 at 200 events/s",
        "< 50 ms",
        at200.get("ack_ms", {}).get("p99"),
        below(at200.get("ack_ms", {}).get("p99"), 50),
    )
    placeholder_p50 = [r["placeholder_ms"]["p50"] for r in fig.results.values()]
    fig.target(
        "placeholder p50 (every rate)",
        "< 150 ms",
        placeholder_p50,
        all(below(p, 150) for p in placeholder_p50) if placeholder_p50 else None,
    )
    return fig


async def _at_rate(bot, slack, sender, rate, seconds, drain_timeout, baseline) -> dict:
    batch = mentions(sender, max(1, int(rate * seconds)), f"C{rate}X")
    await bot.probe()  # start the inside view afresh
    usage = Usage(bot.pid).start()
    started = time.monotonic()
    sent = await post_all(bot.events_url, batch, rate)
    channels = [m.channel for m in batch]
    await until(lambda: len(finished(slack, channels, ANSWER_CHUNKS)) == len(batch), drain_timeout)
    drained = time.monotonic() - started
    done = len(finished(slack, channels, ANSWER_CHUNKS))
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
        "turns_answered": done,
        "turns_per_s": round(done / drained, 1),
        "bot_cpu_percent": usage.cpu_percent,
        "bot_peak_rss_mb": usage.peak_rss_mb,
    }
