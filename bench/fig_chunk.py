"""Figure 8 — CPU per streamed chunk: parsing one model chunk, and the whole bot's path.

ONE stream shape, 3,000 content chunks (one numbered word each, as the other figures
stream), is served by the loopback LLM stand-in in a child process, as fast as it can
write, and read to the end by: (a) a plain SSE line parse with ``json`` over aiohttp
(the floor), (b) the ``openai`` client, (c) ``litellm.acompletion`` called as the bot's
LiteLLM client calls it, (d) the agent's stream path on the client the bot makes
(``make_llm_client(...).stream`` into ``stream_reply``) and (d) the whole bot: a turn
through the runtime (Redis, turn runner, agent, events, ``StreamRenderer``) into an
in-memory chat behind a rate gate at Slack's edit interval (:mod:`bench.chunk_bot`).
CPU is ``time.process_time`` of this process only: the servers' cost (LLM, Redis) is
NOT included. Each path is warmed up once, then timed ``repeats`` times, the paths
taking turns (p50 reported); a cProfile of the whole bot follows, split by stage.
Standalone: ``python -m bench.fig_chunk [--chunks N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import openai  # noqa: E402
from aiohttp import ClientSession  # noqa: E402

from agent.config import AgentConfig  # noqa: E402
from agent.llm import LLMClient, LLMReply, litellm, make_llm_client, stream_reply  # noqa: E402
from bench.chunk_bot import stages, whole_bot  # noqa: E402
from bench.figure import Figure, below  # noqa: E402
from bench.stats import ratio, summary  # noqa: E402

CHUNKS = 3000
REPEATS = 5
MODEL = "bench-model"
KEY = "sk-bench"
MESSAGES = [{"role": "user", "content": "stream"}]
PROFILE_ROWS = 20
PROFILED = "d_whole_bot"
BOT_GOAL = 1.5
"""The whole bot may cost at most this many times the bare openai client per chunk."""
BOT_STRETCH_US = 100

Reader = Callable[[], Awaitable[int]]
"""Reads the whole stream once; returns the number of content chunks it saw."""


# ── the server: the stand-in in a child process ─────────────────────────

SERVE = """
import asyncio, sys
from bench.rig import streamed
from tests.standins.llm import LLMStandIn

async def main(chunks):
    async with LLMStandIn() as llm:
        llm.default = streamed(chunks, 0)
        print(f"READY {llm.base_url}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main(int(sys.argv[1])))
"""
"""The child: the stand-in answering every request with the same stream, until stdin
closes (it imports the stand-in only, not LiteLLM)."""


@contextlib.asynccontextmanager
async def server(chunks: int) -> AsyncIterator[str]:
    """The stand-in in a child process (its CPU is not this process's); yields its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SERVE,
        str(chunks),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        if not line.startswith("READY "):
            raise RuntimeError("the stand-in stopped before it was ready")
        yield line.split()[1]
    finally:
        proc.stdin.close()
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


# ── the readers ─────────────────────────────────────────────────────────


def plain_sse(http: ClientSession, base_url: str) -> Reader:
    """(a) aiohttp lines, ``json.loads`` of each ``data:`` line, the delta's text."""
    body = {
        "model": MODEL,
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {KEY}"}

    async def read() -> int:
        seen = 0
        async with http.post(f"{base_url}/chat/completions", json=body, headers=headers) as r:
            async for line in r.content:
                if not line.startswith(b"data: "):
                    continue
                data = line[6:].strip()
                if data == b"[DONE]":
                    break
                for choice in json.loads(data)["choices"]:
                    if choice["delta"].get("content"):
                        seen += 1
        return seen

    return read


def openai_client(client: openai.AsyncOpenAI) -> Reader:
    """(b) ``chat.completions.create(stream=True)``, the chunks' delta text."""

    async def read() -> int:
        seen = 0
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen += 1
        return seen

    return read


def litellm_as_the_bot_does(base_url: str) -> Reader:
    """(c) ``litellm.acompletion`` with the kwargs the bot's LiteLLM client passes."""

    async def read() -> int:
        seen = 0
        stream = await litellm.acompletion(
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            model=f"openai/{MODEL}",
            api_base=base_url,
            api_key=KEY,
            timeout=600.0,
            num_retries=0,
            max_retries=0,
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen += 1
        return seen

    return read


def agent_path(client: LLMClient) -> Reader:
    """(d) the agent's stream path: ``LLMClient.stream`` into ``stream_reply``."""

    async def read() -> int:
        seen = 0

        async def on_text(_: str) -> None:
            nonlocal seen
            seen += 1

        await stream_reply(await client.stream(MESSAGES, []), LLMReply(), on_text)
        return seen

    return read


def agent_client(base_url: str) -> LLMClient:
    """The client the agent makes for an OpenAI-compatible server."""
    return make_llm_client(AgentConfig(model=f"openai/{MODEL}", api_base=base_url, api_key=KEY))


# ── measuring ───────────────────────────────────────────────────────────


async def measure(readers: dict[str, Reader], chunks: int, repeats: int) -> dict[str, Any]:
    """A warm-up read per path, then ``repeats`` rounds that time every path in turn (so a
    drift of the machine spreads over all): CPU µs per chunk and wall ms per read."""
    for key, read in readers.items():
        if (seen := await read()) != chunks:
            raise RuntimeError(f"{key} saw {seen} chunks of {chunks}")
    cpu: dict[str, list[float]] = {key: [] for key in readers}
    wall: dict[str, list[float]] = {key: [] for key in readers}
    for _ in range(repeats):
        for key, read in readers.items():
            cpu0, wall0 = time.process_time(), time.perf_counter()
            seen = await read()
            cpu[key].append((time.process_time() - cpu0) / chunks * 1e6)
            wall[key].append((time.perf_counter() - wall0) * 1e3)
            if seen != chunks:
                raise RuntimeError(f"{key} saw {seen} chunks of {chunks}")
    return {
        key: {"cpu_us_per_chunk": summary(cpu[key]), "wall_ms": summary(wall[key])}
        for key in readers
    }


async def profile(read: Reader) -> pstats.Stats:
    """A cProfile of one read (cProfile's own clock: a CPU clock would cost a system call
    per event and swamp the figures)."""
    profiler = cProfile.Profile()
    profiler.enable()
    await read()
    profiler.disable()
    return pstats.Stats(profiler)


HARNESS = (
    "bench/",
    "asyncio/",
    "selectors.py",
    "<method 'run' of '_contextvars.Context' objects>",
    "<method 'poll' of 'select.epoll' objects>",
)
"""Frames left out of the profile: this file's readers, the event loop and its waiting."""


def _where(file: str, line: int, name: str) -> str:
    marker = "site-packages/"
    if marker in file:
        file = file.split(marker, 1)[1]
    elif file.startswith(os.getcwd()):
        file = os.path.relpath(file)
    elif "/lib/python" in file:
        file = file.split("/lib/python", 1)[1].split("/", 1)[-1]
    return f"{file}:{line}({name})" if line else name


def profile_table(stats: pstats.Stats, chunks: int, rows: int = PROFILE_ROWS) -> str:
    """A Markdown table: cumulative time per chunk and as a share of the whole profile,
    own time and calls per chunk, function."""
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # type: ignore[attr-defined]
    total = sum(own for _, (_, _, own, _, _) in entries) or 1.0
    lines = [
        f"Profiled: {total / chunks * 1e6:.0f} µs/chunk in all (cProfile's overhead included).",
        "",
        "| cum µs/chunk | cum % | own µs/chunk | calls/chunk | function |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    shown = 0
    for (file, line, name), (_, calls, own, cum, _) in entries:
        where = _where(file, line, name)
        if where.startswith(HARNESS):
            continue
        lines.append(
            f"| {cum / chunks * 1e6:.1f} | {cum / total:.0%} | {own / chunks * 1e6:.1f} "
            f"| {calls / chunks:.2f} | `{where}` |"
        )
        shown += 1
        if shown == rows:
            break
    return "\n".join(lines)


async def run(chunks: int = CHUNKS, repeats: int = REPEATS) -> Figure:
    fig = Figure(
        "chunk_cpu",
        "CPU per streamed chunk: SSE parse, openai client, LiteLLM, the agent, the whole bot",
        {
            "chunks": chunks,
            "repeats": repeats,
            "clock": "time.process_time of the client process",
            "server": "the loopback stand-in and redis-server in child processes: not included",
        },
    )
    async with (
        server(chunks) as base_url,
        ClientSession() as http,
        whole_bot(base_url) as bot_read,
    ):
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0, timeout=600.0)
        ours = agent_client(base_url)
        readers: dict[str, Reader] = {
            "a_plain_sse": plain_sse(http, base_url),
            "b_openai_client": openai_client(sdk),
            "c_litellm_acompletion": litellm_as_the_bot_does(base_url),
            "d_agent_stream": agent_path(ours),
            "d_whole_bot": bot_read,
        }
        measured = await measure(readers, chunks, repeats)
        profiled = await profile(readers[PROFILED])
        await sdk.close()
        await ours.aclose()
    cpu = {key: m["cpu_us_per_chunk"]["p50"] for key, m in measured.items()}
    base, bot = cpu["b_openai_client"], cpu["d_whole_bot"]
    fig.results = {
        "cpu_us_per_chunk_p50": cpu,
        "ratio_to_openai_client": {key: ratio(value, base) for key, value in cpu.items()},
        "cpu_us_per_chunk": {key: m["cpu_us_per_chunk"] for key, m in measured.items()},
        "wall_ms_per_stream": {key: m["wall_ms"] for key, m in measured.items()},
        "stages_us_per_chunk_profiled": stages(profiled, chunks),
        "profiles": {PROFILED: profile_table(profiled, chunks)},
    }
    times = ratio(bot, base)
    fig.target(
        "whole bot vs the bare openai client, CPU per chunk",
        f"≤ {BOT_GOAL}×",
        times,
        None if times is None else times <= BOT_GOAL,
    )
    fig.target(
        "whole bot, CPU µs per chunk (stretch)",
        f"≤ {BOT_STRETCH_US} µs",
        bot,
        below(bot, BOT_STRETCH_US + 1e-9),
    )
    fig.notes.append(
        "The servers write as fast as they can; a socket read may carry several chunks, and "
        "wall time per stream includes waiting for them (child processes on the same "
        "machine). The whole bot's figure includes its per-turn work (Redis, session save) "
        "spread over the chunks. The profile runs under cProfile, which inflates it."
    )
    return fig


def report(fig: Figure) -> str:
    """The figure as Markdown: the per-path table, the targets, then the profile."""
    cpu, ratios = fig.results["cpu_us_per_chunk_p50"], fig.results["ratio_to_openai_client"]
    spread, wall = fig.results["cpu_us_per_chunk"], fig.results["wall_ms_per_stream"]
    lines = [
        f"{fig.title} ({fig.params['chunks']} chunks, p50 of {fig.params['repeats']} reads; "
        f"{fig.params['clock']}, {fig.params['server']})",
        "",
        "| path | CPU µs/chunk (p50) | max | × openai client | wall ms/stream (p50) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key in cpu:
        lines.append(
            f"| {key} | {cpu[key]} | {spread[key]['max']} | {ratios[key]} | {wall[key]['p50']} |"
        )
    lines += ["", *(f"- {t.what}: {t.value} (goal {t.goal}, met: {t.met})" for t in fig.targets)]
    lines += ["", "| stage (profiled) | µs/chunk |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in fig.results["stages_us_per_chunk_profiled"].items()]
    for key, table in fig.results["profiles"].items():
        lines += [
            "",
            f"cProfile of {key}, by cumulative time (harness and event loop left out):",
        ]
        lines += ["", table]
    lines += ["", *(f"- {n}" for n in fig.notes)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fig_chunk", description=__doc__)
    parser.add_argument("--chunks", type=int, default=CHUNKS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    print(report(asyncio.run(run(args.chunks, args.repeats))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
