"""Figure 4 — overhead: what the runtime, the store and the renderer add to a turn.

A turn with a zero-latency LLM (the loopback stand-in, no delay) and a no-op
tool: one model call asking for the tool, then a streamed answer. Its wall time
in the runtime (submit → idle) is compared with the same two model calls made
straight through the client the agent makes (``make_llm_client``: the ``openai`` client
for this OpenAI-compatible stand-in) in the same process (the baseline). Redis round trips
are counted by a proxy in front of redis-server, at two answer lengths.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from agent.llm import LLMReply, make_llm_client, stream_reply
from bench.discord_surface import DiscordChannel
from bench.figure import Figure, below
from bench.proc import cpu_seconds
from bench.redis_proxy import CountingProxy
from bench.rig import bot_env, bot_settings, redis_server, standins, streamed
from bench.stats import ms, ratio, summary
from bench.tools import bench_tools
from bot.runtime import runtime
from tests.standins.llm import tool_calls

TURN_BUDGET_MS = 2000
SHARE_GOAL = 0.05


def _script(llm: Any, chunks: int) -> None:
    llm.script(tool_calls(("noop", {})), streamed(chunks, 0))


async def _llm_only(llm: Any, settings: Any, chunks: int, turns: int) -> list[float]:
    client = make_llm_client(settings.agent_config())  # what Agent uses as ``agent.llm``
    specs = bench_tools().specs()
    messages = [{"role": "user", "content": "overhead"}]

    async def on_text(_: str) -> None:
        return None

    walls = []
    for _ in range(turns):
        _script(llm, chunks)
        start = time.monotonic()
        for _ in range(2):
            await stream_reply(await client.stream(messages, specs), LLMReply(), on_text)
        walls.append(ms(time.monotonic() - start))
    await client.aclose()
    return walls


async def _turns(llm: Any, settings: Any, chunks: int, turns: int, tag: str) -> list[float]:
    walls = []
    async with runtime(settings, tools=bench_tools()) as rt:
        rt.runner.surfaces["bench"] = lambda key, ref: DiscordChannel(0.0, limited=False)
        for i in range(turns):
            _script(llm, chunks)
            start = time.monotonic()
            await rt.runner.submit(f"bench:T:C:{tag}{i}", {"kind": "message", "text": "go"})
            await rt.runner.wait_idle()
            walls.append(ms(time.monotonic() - start))
    return walls


async def run(turns: int, chunks: tuple[int, int]) -> Figure:
    short, long = chunks
    fig = Figure(
        "overhead",
        "Overhead per turn: runtime + store + renderer vs LLM-only; Redis round trips",
        {"turns": turns, "answer_chunks": list(chunks), "llm_latency": 0, "tool": "noop"},
    )
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins(slack=False) as (llm, _):
            settings = bot_settings(bot_env(redis.url, llm, None, Path(data)))
            await _turns(llm, settings, short, 2, "warm")  # imports, connections
            cpu0 = cpu_seconds()
            baseline = await _llm_only(llm, settings, short, turns)
            cpu1 = cpu_seconds()
            walls = await _turns(llm, settings, short, turns, "t")
            cpu2 = cpu_seconds()
            trips = {}
            for n in chunks:
                async with CountingProxy(redis.port) as proxy:
                    counted = settings.model_copy(update={"redis_url": proxy.url})
                    before = proxy.round_trips
                    await _turns(llm, counted, n, turns, f"rt{n}-")
                    trips[n] = round((proxy.round_trips - before) / turns, 1)
    turn, llm_only = summary(walls), summary(baseline)
    overhead = round(turn["p50"] - llm_only["p50"], 1)
    cpu_overhead = round(ms((cpu2 - cpu1) - (cpu1 - cpu0)) / turns, 1)
    per_chunk = round((trips[long] - trips[short]) / (long - short), 3)
    fig.results = {
        "turn_ms": turn,
        "llm_only_ms": llm_only,
        "turn_vs_llm_only": {q: ratio(turn[q], llm_only[q]) for q in ("p50", "p99")},
        "overhead_ms_p50": overhead,
        "overhead_cpu_ms_per_turn": cpu_overhead,
        "share_of_2s_turn": round(overhead / TURN_BUDGET_MS, 4),
        "redis_round_trips_per_turn": {f"{n} chunks": trips[n] for n in chunks},
        "redis_round_trips_per_extra_chunk": per_chunk,
    }
    fig.target(
        "runtime overhead per turn (p50)",
        f"< {SHARE_GOAL:.0%} of a 2 s turn ({TURN_BUDGET_MS * SHARE_GOAL:.0f} ms)",
        overhead,
        below(overhead, TURN_BUDGET_MS * SHARE_GOAL),
    )
    fig.target(
        "Redis round trips per extra chunk",
        "≈ 0 (O(1) per chunk batch)",
        per_chunk,
        per_chunk < 0.05,
    )
    fig.notes.append(
        "The in-memory chat here has no rate gate, so each chunk may be an edit; "
        "Redis is still not touched per chunk."
    )
    return fig
