"""The whole bot as one of figure 8's stream readers, and where its time per chunk goes.

:func:`whole_bot` runs the runtime of this process (Redis of its own, the agent on the
client the bot makes, the turn runner, :class:`~bot.output.render.StreamRenderer`) into
an in-memory chat whose rate gate is Slack's edit interval: each read is one turn,
submit → the answer's final write → idle. The chat holds the answer in one message (a
split costs a gate interval of waiting, hardly any CPU). :func:`stages` splits a
cProfile of it by stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import pstats
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bench.discord_surface import DiscordChannel
from bench.rig import bot_env, bot_settings, redis_server
from bench.tools import bench_tools
from bot.runtime import runtime

Reader = Callable[[], Awaitable[int]]


class Chat(DiscordChannel):
    """The in-memory chat: no platform limit beyond its rate gate; ``ended`` is set by the
    answer's final write (waiting for it, not polling for idle, keeps the harness's CPU
    out of the figure)."""

    max_chars = 1_000_000

    def __init__(self, interval: float) -> None:
        super().__init__(interval, limited=False)
        self.ended = asyncio.Event()

    async def post(self, text: str, *, final: bool = False) -> str:
        ref = await super().post(text, final=final)
        if final:
            self.ended.set()
        return ref

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        await super().edit(ref, text, final=final)
        if final:
            self.ended.set()


STAGES = (
    ("parse: the openai client's stream (SSE → JSON chunks)", "agent/llm.py", "_bounded"),
    ("agent loop: stream_reply, less the parse and the event", "agent/llm.py", "stream_reply"),
    ("events: RunningTurn.emit (metrics, trace), less the renderer", "bot/turns/turn.py", "emit"),
    ("renderer: StreamRenderer.handle (clean, word cut, kick)", "bot/output/render.py", "handle"),
    ("rate gate + writes: the flusher task", "bot/output/render.py", "_flush_loop"),
)
"""Each stage by the function whose cumulative time holds it; a stage's own share is its
function's time less the next stage's inside it (the last stage runs in its own task)."""


@contextlib.asynccontextmanager
async def whole_bot(llm_url: str, interval: float | None = None) -> AsyncIterator[Reader]:
    """A reader that runs one turn through the bot per read; returns the last chunk the
    chat showed. ``interval`` (s) is the chat's rate gate, Slack's edit interval by default."""
    with redis_server() as redis, tempfile.TemporaryDirectory() as data:
        settings = bot_settings(bot_env(redis.url, llm_url, None, Path(data)))
        gate = settings.slack_edit_interval_ms / 1000 if interval is None else interval
        async with runtime(settings, tools=bench_tools()) as rt:
            turns = itertools.count()
            chats: list[Chat] = []
            rt.runner.surfaces["bench"] = lambda key, ref: chats[-1]

            async def read() -> int:
                chat = Chat(gate)
                chats.append(chat)
                key = f"bench:T:C:chunk{next(turns)}"  # a new thread: no history grows
                await rt.runner.submit(key, {"kind": "message", "text": "stream"})
                await chat.ended.wait()
                await rt.runner.wait_idle()
                shown = chats.pop().shown
                return shown[-1][1] if shown else 0

            yield read


def stages(stats: pstats.Stats, chunks: int) -> dict[str, float]:
    """µs per chunk in each stage of :data:`STAGES` (cProfile's clock and overhead)."""
    cum: dict[tuple[str, str], float] = {}
    for (file, _, name), (_, _, _, seconds, _) in stats.stats.items():  # type: ignore[attr-defined]
        for _, where, function in STAGES:
            if name == function and file.endswith(where):
                cum[(where, function)] = cum.get((where, function), 0.0) + seconds
    found = [cum.get((where, function), 0.0) for _, where, function in STAGES]
    inner = {0: 0.0, 1: found[0] + found[2], 2: found[3], 3: 0.0, 4: 0.0}
    return {
        label: round(max(0.0, found[i] - inner[i]) / chunks * 1e6, 1)
        for i, (label, _, _) in enumerate(STAGES)
    }
