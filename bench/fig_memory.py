"""Figure 5 — memory: bot RSS with many idle sessions in Redis vs none, and Redis bytes
per session. Each RSS is a fresh bot process (child) after start-up and one answered
mention; the 0-session run is done twice, so its spread is the noise."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from redis.asyncio import Redis

from agent.session import Session
from bench.figure import Figure, finished, until
from bench.proc import rss_mb
from bench.rig import SECRET, BotProcess, bot_env, redis_server, standins, streamed
from bench.slackload import mentions, post_all
from bot.store.sessions import SessionStore
from tests.standins.slack import SlackSender

BATCH = 50
USER_TEXT = "Could you fine-tune a small model on this dataset and tell me how it went? " * 2
ASSISTANT_TEXT = "Here is what I found on the Hub, with the job's settings and results. " * 8


def history(messages: int) -> list[dict[str, str]]:
    """A plain chat of ``messages`` turns, alternating user (~150 B) and assistant (~550 B)."""
    return [
        {"role": "user", "content": USER_TEXT}
        if i % 2 == 0
        else {"role": "assistant", "content": ASSISTANT_TEXT}
        for i in range(messages)
    ]


async def fill(redis_url: str, sessions: int, messages: int) -> float:
    """Save ``sessions`` idle sessions; returns Redis bytes used per session."""
    redis = Redis.from_url(redis_url)
    try:
        store = SessionStore(redis)
        before = (await redis.info("memory"))["used_memory"]
        chat = history(messages)
        for start in range(0, sessions, BATCH):
            await asyncio.gather(
                *(
                    store.save(Session(key=f"slack:T0TEAM:CIDLE:{i}", history=chat), status="idle")
                    for i in range(start, min(start + BATCH, sessions))
                )
            )
        after = (await redis.info("memory"))["used_memory"]
        return (after - before) / sessions
    finally:
        await redis.aclose()


async def _bot_rss(env: dict, slack, sender: SlackSender, tag: str) -> float:
    async with BotProcess(env) as bot:
        batch = mentions(sender, 1, f"CM{tag}X")
        await post_all(bot.events_url, batch)
        await until(lambda: len(finished(slack, [batch[0].channel], 3)) == 1, 30)
        await asyncio.sleep(1.0)
        return round(rss_mb(bot.pid), 1)


async def run(sessions: int, messages: int) -> Figure:
    fig = Figure(
        "memory",
        "Memory: bot RSS with idle sessions in Redis vs none; Redis bytes per session",
        {"idle_sessions": sessions, "history_messages": messages},
    )
    sender = SlackSender("", SECRET)
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins() as (llm, slack):
            llm.default = streamed(3, 0)
            env = bot_env(redis.url, llm, slack, Path(data))
            empty = [await _bot_rss(env, slack, sender, f"E{i}") for i in range(2)]
            per_session = await fill(redis.url, sessions, messages)
            full = await _bot_rss(env, slack, sender, "F")
    noise = round(abs(empty[1] - empty[0]), 1)
    delta = round(full - sum(empty) / 2, 1)
    fig.results = {
        "rss_mb_0_sessions": empty,
        "rss_mb_idle_sessions": full,
        "rss_delta_mb": delta,
        "rss_noise_mb": noise,
        "rss_ratio": round(full / (sum(empty) / 2), 3),
        "redis_bytes_per_session": round(per_session),
    }
    flat = abs(delta) <= max(noise, 0.02 * full)
    fig.target(
        f"idle-session RSS flat ({sessions} sessions)",
        "Δ within noise (or 2%)",
        delta,
        flat,
    )
    return fig
