"""Figure 9 — cold start: from launching the bot's command to the bot at work.

Baseline, in the same run: ``python -c "import litellm"`` (the bot's largest import).
Then the real command line (``python -m bot``, which is ``ml-intern-bot``) in fresh
processes on loopback (redis-server of our own, the Slack and LLM stand-ins):
``slack`` → ``GET /healthz`` answers 200; and ``worker`` → its first turn started (the
LLM stand-in receives the turn's model call), the turn queued beforehand by a Slack front
end that runs no turns (``RUN_TURNS=0``). Each is timed ``repeats`` times (median).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import ClientError, ClientSession

from bench.figure import Figure, finished, step, until
from bench.rig import (
    SECRET,
    BotProcess,
    TimedLLM,
    TimedSlack,
    bot_env,
    redis_server,
    standins,
    streamed,
)
from bench.slackload import Mention, mentions, post_all
from tests.conftest import free_port
from tests.standins.slack import SlackSender

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 0.5
"""The target: each start within the LiteLLM import + this."""
ANSWER_CHUNKS = 3
LAUNCH_TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def command(env: dict[str, str], *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m bot <args>`` from the repository root, terminated on exit."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def import_litellm() -> float:
    """Seconds to run ``python -c "import litellm"`` as the bot imports it."""
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import litellm",
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    if await proc.wait():
        raise RuntimeError("python -c 'import litellm' failed")
    return time.monotonic() - start


async def to_healthz(env: dict[str, str]) -> float:
    """Seconds from launching ``slack`` to ``/healthz`` answering 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    async with ClientSession() as http:
        start = time.monotonic()
        async with command(env | {"PORT": str(port)}, "slack") as proc:
            while proc.returncode is None and time.monotonic() - start < LAUNCH_TIMEOUT:
                with contextlib.suppress(ClientError):
                    async with http.get(url) as response:
                        if response.status == 200:
                            return time.monotonic() - start
                await asyncio.sleep(0.01)
    raise RuntimeError("ml-intern-bot slack never answered /healthz")


async def to_first_turn(
    env: dict[str, str], front: BotProcess, llm: TimedLLM, slack: TimedSlack, mention: Mention
) -> float:
    """Seconds from launching ``worker`` to its first turn's model call; the turn (queued by
    ``front``) is let finish before the worker stops, so none is left for the next one."""
    await post_all(front.events_url, [mention])
    seen = len(llm.requests)
    start = time.monotonic()
    async with command(env | {"PORT": str(free_port())}, "worker"):
        if not await until(lambda: len(llm.requests) > seen, LAUNCH_TIMEOUT, every=0.005):
            raise RuntimeError("ml-intern-bot worker never started the queued turn")
        took = time.monotonic() - start
        await until(lambda: bool(finished(slack, [mention.channel], ANSWER_CHUNKS)), 30)
    return took


async def run(repeats: int) -> Figure:
    fig = Figure(
        "cold_start",
        "Cold start: `slack` to /healthz 200, `worker` to its first turn, vs importing LiteLLM",
        {"repeats": repeats, "command": "python -m bot (ml-intern-bot)", "statistic": "median"},
    )
    step(f"import litellm × {repeats}")
    baseline = [await import_litellm() for _ in range(repeats)]
    slack_s: list[float] = []
    worker_s: list[float] = []
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        async with standins() as (llm, slack):
            assert slack is not None
            llm.default = streamed(ANSWER_CHUNKS, 0)
            env = bot_env(redis.url, llm, slack, Path(data))
            step(f"ml-intern-bot slack → /healthz × {repeats}")
            slack_s = [await to_healthz(env) for _ in range(repeats)]
            step(f"ml-intern-bot worker → first turn × {repeats}")
            async with BotProcess(env | {"RUN_TURNS": "0"}) as front:
                batch = mentions(SlackSender("", SECRET), repeats, "CCOLD")  # unique event ids
                worker_s = [await to_first_turn(env, front, llm, slack, m) for m in batch]
            answered = len(finished(slack, [m.channel for m in batch], ANSWER_CHUNKS))
    base = statistics.median(baseline)
    fig.results = {
        "import_litellm_s": _summary(baseline),
        "slack_to_healthz_s": _summary(slack_s),
        "worker_to_first_turn_s": _summary(worker_s),
        "turns_answered": answered,
    }
    for what, times in (("slack → /healthz 200", slack_s), ("worker → first turn", worker_s)):
        took = statistics.median(times)
        fig.results[f"{what}: minus the import, s"] = round(took - base, 2)
        fig.target(
            f"{what} (median s; import litellm {base:.2f} s)",
            f"≤ import + {GRACE_S} s ({base + GRACE_S:.2f})",
            round(took, 2),
            took <= base + GRACE_S,
        )
    return fig


def _summary(seconds: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(seconds), 3),
        "min": round(min(seconds), 3),
        "max": round(max(seconds), 3),
    }
