"""Figure — the ``space`` sandbox backend through the Hub stand-in.

The round trip's goal is the local backend's (figure 12): the stand-in's Space is a
loopback subprocess, so this measures the backend and client, not Hugging Face's network.

1. ``bash true`` round trip: one sandbox Space (``agent/sandbox/space.py``) built by the
   stand-in, whose committed ``server.py`` runs as a subprocess on loopback behind the
   stand-in's gateway (which, like the Hub's, wants the HF token); then ``bash true``
   calls one after another through the tools' client (a new client per call, the HF
   bearer and the sandbox token on each), call → answer.
2. A new thread's first ``bash`` with an 8 s Space build, once the bot has been up a
   while: the runtime's sandbox upkeep (``bot/sandboxes.py``: the warm pool,
   ``SANDBOX_WARM=1``) over a real redis-server, then a fresh session's ``bash true``
   through the tool, call → result. The same without the pool (``SANDBOX_WARM=0``) shows
   what it saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from agent.sandbox.files import Sandbox
from agent.sandbox.manager import Sandboxes
from agent.sandbox.space import SpaceBackend
from agent.session import Session
from agent.tools.registry import ToolContext
from agent.tools.sandbox import sandbox_tools
from bench.fig_sandbox import ROUND_TRIP_GOAL_MS, bash_round_trips
from bench.figure import Figure, below, step
from bench.rig import redis_server
from bench.stats import summary
from bot.sandboxes import IndexedBackend
from bot.store.embedded import connect
from tests.standins.hub import HubStandIn

FIRST_BASH_GOAL_S = 2.0
BUILD_SECONDS = 8.0


async def _round_trips(hub: HubStandIn, calls: int) -> list[float]:
    backend = SpaceBackend(hub.api(), poll_seconds=0.1)
    record = await backend.start("bench:T:C:1", "cpu-basic")
    try:
        return await bash_round_trips(backend, record, calls)
    finally:
        await backend.stop(record)


async def _first_bash(hub: HubStandIn, redis_url: str, warm: int, uptime: float) -> float:
    """Seconds from a new thread's first ``bash true`` to its result, ``uptime`` s after
    the upkeep started."""
    redis = connect(redis_url)
    await redis.flushdb()
    backend = IndexedBackend(SpaceBackend(hub.api(), poll_seconds=0.5), redis, warm=warm)
    upkeep = asyncio.create_task(backend.run())
    try:
        await asyncio.sleep(uptime)
        with tempfile.TemporaryDirectory() as root:
            bash = {t.name: t for t in sandbox_tools(Sandboxes(backend, Sandbox(Path(root))))}[
                "bash"
            ]
            session = Session(key=f"bench:T:C:{warm}")
            began = time.monotonic()
            result = await bash.handler(
                {"command": "true"}, ToolContext(session=session, tool_call_id="first")
            )
            took = time.monotonic() - began
        assert "exit code 0" in result.output, result.output
        for entry in await backend.index.all():
            await backend.stop(entry.record())
        return took
    finally:
        upkeep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await upkeep
        await redis.aclose()


async def run(calls: int, uptime: float) -> Figure:
    figure = Figure(
        "space_sandbox",
        "Sandbox on a Space (stand-in): `bash true` round trip; a new thread's first `bash`",
        {"calls": calls, "build_s": BUILD_SECONDS, "uptime_s": uptime},
    )
    hub = HubStandIn()
    await hub.start()
    try:
        hub.space_build_seconds = 0.2
        trips = await _round_trips(hub, calls)
        step(f"bash true p50 {summary(trips)['p50']} ms")
        hub.space_build_seconds = BUILD_SECONDS
        with redis_server() as redis:
            warm = await _first_bash(hub, redis.url, 1, uptime)
            step(f"first bash with the warm pool: {warm:.2f} s")
            cold = await _first_bash(hub, redis.url, 0, 0.0)
            step(f"first bash without it: {cold:.2f} s")
    finally:
        await hub.close()
    figure.results = {
        "bash_true_ms": summary(trips),
        "first_bash_warm_s": round(warm, 3),
        "first_bash_no_pool_s": round(cold, 3),
    }
    p50 = summary(trips)["p50"]
    figure.target(
        "bash true p50 (Space stand-in)",
        f"< {ROUND_TRIP_GOAL_MS:g} ms",
        p50,
        below(p50, ROUND_TRIP_GOAL_MS),
    )
    figure.target(
        f"new thread's first bash, {BUILD_SECONDS:g} s build, bot up {uptime:g} s",
        f"< {FIRST_BASH_GOAL_S:g} s",
        round(warm, 3),
        below(warm, FIRST_BASH_GOAL_S),
    )
    return figure
