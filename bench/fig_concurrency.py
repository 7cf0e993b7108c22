"""Figure 3 — concurrency: N threads streaming at once in one bot process.

Each N runs in a fresh bot process (child) against the Slack stand-in (limits
not enforced: every thread has its own channel, and Slack's workspace-wide
chat.update tier would refuse most edits past one thread; see the README).
Added latency per chunk is chunk → visible at N minus the same at 1 thread; the
process may run N turns at once (``WORKER_CONCURRENCY=N``).

Scale-out: a Slack front end that runs no turns and 1, 2 or 4 ``worker`` processes
on one Redis; all mentions are sent at once and answered by a zero-latency LLM, so
turns/s is what the workers' CPU allows (ratios against 1 worker).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.figure import Figure, below, finished, step, until
from bench.rig import SECRET, BotProcess, bot_env, fleet, redis_server, standins, streamed
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
        with redis_server() as redis, tempfile.TemporaryDirectory() as data:
            async with standins() as (llm, slack):
                env = bot_env(redis.url, llm, slack, Path(data), worker_concurrency=n)
                async with BotProcess(env) as bot:
                    streams = SlackStreams(bot, slack, llm, sender, f"CN{n}X")
                    within = chunks / rate + 30 + n / LAUNCH_PER_S
                    complete = await streams.run(n, chunks, rate, within, LAUNCH_PER_S)
        fig.results[f"N={n}"] = streams.results() | {"threads_mentioned": n, "complete": complete}
        plots[f"N={n}"] = streams.plotted()
    base = fig.results[f"N={threads[0]}"]["chunk_to_visible_ms"]
    for result in fig.results.values():
        latency = result["chunk_to_visible_ms"]
        result["added_ms"] = {
            q: None if latency[q] is None or base[q] is None else round(latency[q] - base[q], 1)
            for q in ("p50", "p99")
        }
        result["vs_1_thread"] = {q: ratio(latency[q], base[q]) for q in ("p50", "p99")}
    biggest = fig.results[f"N={threads[-1]}"]
    fig.target(
        f"{threads[-1]} streams: p99 added latency per chunk",
        "< 50 ms",
        biggest["added_ms"]["p99"],
        below(biggest["added_ms"]["p99"], 50) if biggest["complete"] else False,
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


async def _scale_out(workers: tuple[int, ...], turns: int) -> dict[str, Any]:
    """Turns per second with ``k`` worker processes behind one front end, for each ``k``."""
    sender = SlackSender("", SECRET)
    out: dict[str, Any] = {}
    for k in workers:
        step(f"{turns} turns over {k} worker process(es)")
        with redis_server() as redis, tempfile.TemporaryDirectory() as data:
            async with standins() as (llm, slack):
                llm.default = streamed(ANSWER_CHUNKS, 0)
                async with fleet(bot_env(redis.url, llm, slack, Path(data)), k) as front:
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
