"""Figure 3 — concurrency: N threads streaming at once in one bot process.

Each N runs in a fresh bot process (child) with its Slack rate budget off
(``SLACK_RATE_BUDGET=0``) against the Slack stand-in enforcing nothing, every thread
in its own channel, so the process alone sets the pace; it may run N turns at once
(``WORKER_CONCURRENCY=N``). Added latency per chunk is chunk → visible at N minus the
same at 1 thread; CPU per chunk is the bot's CPU time over the chunks streamed (with
each turn's fixed work). A last row runs the largest N with the budget on against a
stand-in enforcing Slack's limits (one workspace, Slack's limits).

Scale-out: a Slack front end that runs no turns and 1, 2 or 4 ``worker`` processes
on one Redis, their budgets off too; all mentions are answered by a zero-latency LLM,
so turns/s is what the workers allow (ratios against 1 worker).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.figure import Figure, below, finished, step, until
from bench.rig import (
    ONE_WORKSPACE,
    SECRET,
    BotProcess,
    bot_env,
    fleet,
    redis_server,
    standins,
    streamed,
)
from bench.slackload import mentions, post_all
from bench.stats import ratio
from bench.streams import SlackStreams
from tests.standins.slack import SlackSender

ANSWER_CHUNKS = 3
LAUNCH_PER_S = 100
"""Mentions per second when starting threads or queueing turns: one front end's Redis pool
(100 connections) refuses some events when hundreds arrive in the same instant."""


async def run(
    threads: tuple[int, ...], chunks: int, rate: float, workers: tuple[int, ...], turns: int
) -> Figure:
    fig = Figure(
        "concurrency",
        "Concurrency: added latency per chunk, CPU, RSS at N streaming threads; worker scale-out",
        {
            "threads": list(threads),
            "chunks_per_thread": chunks,
            "chunks_per_s": rate,
            "workers": list(workers),
            "turns_per_worker_run": turns,
        },
    )
    sender = SlackSender("", SECRET)
    plots: dict[str, list[list[float]]] = {}
    for n in threads:
        step(f"{n} threads streaming at once ({chunks} chunks at {rate:g}/s each)")
        fig.results[f"N={n}"], plots[f"N={n}"] = await _streams(sender, n, chunks, rate, False)
    biggest = threads[-1]
    step(f"{biggest} threads, {ONE_WORKSPACE}")
    budgeted = f"N={biggest}, {ONE_WORKSPACE}"
    fig.results[budgeted], _ = await _streams(sender, biggest, chunks, rate, True)
    base = fig.results[f"N={threads[0]}"]
    first, first_cpu = base["chunk_to_visible_ms"], base["bot_cpu_us_per_chunk"]
    for result in fig.results.values():
        latency = result["chunk_to_visible_ms"]
        result["added_ms"] = {
            q: None if latency[q] is None or first[q] is None else round(latency[q] - first[q], 1)
            for q in ("p50", "p99")
        }
        result["vs_1_thread"] = {q: ratio(latency[q], first[q]) for q in ("p50", "p99")}
        result["cpu_per_chunk_vs_1_thread"] = ratio(result["bot_cpu_us_per_chunk"], first_cpu)
    top = fig.results[f"N={biggest}"]
    fig.target(
        f"{biggest} streams: p99 added latency per chunk",
        "< 100 ms",
        top["added_ms"]["p99"],
        below(top["added_ms"]["p99"], 100) if top["complete"] else False,
    )
    fig.target(
        f"bot CPU µs per chunk at 1 and {biggest} streams; × 1 stream",
        "reported",
        [
            base["bot_cpu_us_per_chunk"],
            top["bot_cpu_us_per_chunk"],
            top["cpu_per_chunk_vs_1_thread"],
        ],
        None,
    )
    fig.target(
        f"{ONE_WORKSPACE}, {biggest} streams: p99 added latency per chunk, threads that finished",
        "reported",
        [fig.results[budgeted]["added_ms"]["p99"], fig.results[budgeted]["finished"]],
        None,
    )
    scale_out = fig.results["workers"] = await _scale_out(workers, turns)
    fig.target(
        f"worker scale-out: turns/s with {', '.join(map(str, workers))} workers; × 1 worker",
        "reported",
        [scale_out[f"{k} workers"]["turns_per_s"] for k in workers]
        + [scale_out[f"{k} workers"][f"vs_{workers[0]}_worker"] for k in workers[1:]],
        None,
    )
    fig.results["plot"] = plots
    return fig


async def _streams(
    sender: SlackSender, n: int, chunks: int, rate: float, limits: bool
) -> tuple[dict[str, Any], list[list[float]]]:
    """``n`` threads streaming at once in a fresh bot process: its Slack budget on and
    Slack's limits enforced (``limits``), or both off."""
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins(limits=limits) as (llm, slack):
            env = bot_env(
                redis.url, llm, slack, Path(data), rate_budget=limits, worker_concurrency=n
            )
            async with BotProcess(env) as bot:
                prefix = f"CN{n}{'L' if limits else ''}X"
                streams = SlackStreams(bot, slack, llm, sender, prefix)
                within = chunks / rate + 30 + n / LAUNCH_PER_S
                complete = await streams.run(n, chunks, rate, within, LAUNCH_PER_S)
                done = len(finished(slack, [f"{prefix}{i:05d}" for i in range(n)], chunks))
    result = streams.results() | {"threads_mentioned": n, "complete": complete, "finished": done}
    return result, streams.plotted()


async def _scale_out(workers: tuple[int, ...], turns: int) -> dict[str, Any]:
    """Turns per second with ``k`` worker processes behind one front end, for each ``k``."""
    sender = SlackSender("", SECRET)
    out: dict[str, Any] = {}
    for k in workers:
        step(f"{turns} turns over {k} worker process(es)")
        with redis_server() as redis, tempfile.TemporaryDirectory() as data:
            async with standins() as (llm, slack):
                llm.default = streamed(ANSWER_CHUNKS, 0)
                env = bot_env(redis.url, llm, slack, Path(data), rate_budget=False)
                async with fleet(env, k) as front:
                    batch = mentions(sender, turns, f"CW{k}X")
                    channels = [m.channel for m in batch]
                    start = time.monotonic()
                    await post_all(front.events_url, batch, LAUNCH_PER_S)
                    await until(
                        lambda c=channels: len(finished(slack, c, ANSWER_CHUNKS)) == turns,
                        30 + turns * 0.1,
                    )
                    took = time.monotonic() - start
                    done = len(finished(slack, channels, ANSWER_CHUNKS))
        out[f"{k} workers"] = {"turns": done, "seconds": round(took, 2)}
        out[f"{k} workers"]["turns_per_s"] = round(done / took, 1)
    first = out[f"{workers[0]} workers"]["turns_per_s"]
    for result in out.values():
        result[f"vs_{workers[0]}_worker"] = ratio(result["turns_per_s"], first)
    return out
