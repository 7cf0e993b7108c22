"""Figure 2 — edit cadence: first LLM token → first visible edit, chunk → visible over a
whole stream, and edits per second per thread against the platform's allowed rate.

Slack: the whole bot (child process) against the Slack stand-in enforcing Slack's
limits. Discord: the shared renderer against a channel enforcing 5 edits / 5 s.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.discord_surface import EDITS_PER_WINDOW, WINDOW_SECONDS, discord_stream
from bench.figure import Figure
from bench.rig import SECRET, BotProcess, bot_env, redis_server, standins
from bench.streams import SlackStreams, aggregate
from bot.settings import Settings
from tests.standins.slack import RateLimits, SlackSender

GOAL_SHARE = 0.9


def _judge(fig: Figure, name: str, result: dict, interval_ms: int, allowed: float) -> None:
    first = result["first_token_to_visible_ms"]["max"]
    fig.target(
        f"{name}: first token → visible (max)",
        f"≤ {interval_ms + 100} ms",
        first,
        None if first is None else first <= interval_ms + 100,
    )
    used = result["edits_per_s_per_thread"]["p50"]
    share = None if used is None else round(used / allowed, 3)
    result["allowed_edits_per_s"] = allowed
    result["share_of_allowed_rate"] = share
    fig.target(
        f"{name}: share of allowed edit rate, 429s",
        f"≥ {GOAL_SHARE:.0%}, 0",
        [share, result["rate_limited_429"]],
        None if share is None else share >= GOAL_SHARE and result["rate_limited_429"] == 0,
    )


async def run(chunks: int, rate: float) -> Figure:
    defaults = Settings(_env_file=None)
    slack_ms, discord_ms = defaults.slack_edit_interval_ms, defaults.discord_edit_interval_ms
    limits = RateLimits()
    fig = Figure(
        "edit_cadence",
        "Edit cadence: first token → visible, chunk → visible, edits/s vs allowed",
        {
            "chunks": chunks,
            "chunks_per_s": rate,
            "slack_edit_interval_ms": slack_ms,
            "discord_edit_interval_ms": discord_ms,
            "slack_limits": asdict(limits),
            "discord_limit": f"{EDITS_PER_WINDOW} edits / {WINDOW_SECONDS:g} s per channel",
        },
    )
    sender = SlackSender("", SECRET)
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins() as (llm, slack):
            slack.enforce_rate_limits(limits)
            async with BotProcess(bot_env(redis.url, llm, slack, Path(data))) as bot:
                streams = SlackStreams(bot, slack, llm, sender, "CE")
                complete = await streams.run(1, chunks, rate, within=chunks / rate + 30)
            slack_result = streams.results() | {"complete": complete}
    allowed = min(limits.per_minute("chat.update") / 60, 1000 / slack_ms)  # Tier 3
    _judge(fig, "Slack", slack_result, slack_ms, allowed)
    discord = await discord_stream(chunks, rate, discord_ms / 1000)
    discord_result = aggregate([discord])
    allowed = min(EDITS_PER_WINDOW / WINDOW_SECONDS, 1000 / discord_ms)
    _judge(fig, "Discord", discord_result, discord_ms, allowed)
    fig.results = {"slack": slack_result, "discord": discord_result}
    fig.results["plot"] = {"Slack": streams.plotted(), "Discord": [discord.edits]}
    fig.notes.append(
        "Discord: the shared renderer against a bench channel enforcing Discord's limit, "
        "not the discord.py client."
    )
    return fig
