"""The loopback parts every figure runs on: redis-server, the LLM and Slack stand-ins with
timestamps, and the bot itself in a child process (``bench.botproc``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bot.settings import Settings
from tests.conftest import RedisServer
from tests.standins.llm import LLMStandIn, Reply, text
from tests.standins.slack import RateLimits, SlackStandIn

SECRET = "bench-signing-secret"
ONE_WORKSPACE = "one workspace, Slack's limits"
"""The row of a figure run with the bot's Slack budget on and the stand-in enforcing
Slack's limits: every bench thread is in one workspace, so Slack's tiers bound it."""
WORD = "w{:05d} "
MARKER = re.compile(r"w(\d{5})")


# ── content with markers: which chunk a message shows ───────────────────


def words(n: int) -> str:
    """``n`` numbered words, one per chunk: ``w00001 w00002 …``."""
    return "".join(WORD.format(i) for i in range(1, n + 1))


def streamed(chunks: int, rate: float) -> Reply:
    """A reply of ``chunks`` numbered words streamed at ``rate`` chunks per second."""
    return text(words(chunks), chunk_size=len(WORD.format(0)), delay=1 / rate if rate else 0.0)


def last_marker(shown: str) -> int:
    """The number of the last chunk ``shown`` contains (0 for none)."""
    found = MARKER.findall(shown)
    return int(found[-1]) if found else 0


# ── stand-ins that note when things happen ──────────────────────────────


@dataclass(frozen=True)
class Stream:
    """One streamed completion: what the user asked, when it started and ended."""

    asked: str
    start: float
    end: float
    sends: int

    def chunk_time(self, k: int) -> float:
        """When content chunk ``k`` (1-based) was sent; the stand-in sends a role chunk,
        the chunks, then a finish chunk, sleeping the same delay after each."""
        return self.start + k * (self.end - self.start) / self.sends


class TimedLLM(LLMStandIn):
    """The loopback LLM, noting each streamed request's start and end."""

    def __init__(self) -> None:
        super().__init__()
        self.streams: list[Stream] = []

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        start = time.monotonic()
        body = await request.json()  # aiohttp keeps the body: the parent reads it again
        reply = self._queue[0] if self._queue else self.default
        response = await super()._completions(request)
        if body.get("stream") and reply is not None and not reply.calls:
            chunks = -(-len(reply.content) // reply.chunk_size)
            asked = str(body["messages"][-1].get("content", ""))
            self.streams.append(Stream(asked, start, time.monotonic(), chunks + 2))
        return response


@dataclass(frozen=True)
class Call:
    at: float
    method: str
    args: dict[str, Any]
    status: int


class TimedSlack(SlackStandIn):
    """The Slack stand-in, noting when each Web API call arrived and how it was answered."""

    def __init__(self) -> None:
        super().__init__()
        self.timeline: list[Call] = []

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        # No await between the parent recording the call and returning: calls[-1] is this one.
        method, args = self.calls[-1]
        self.timeline.append(Call(time.monotonic(), method, args, response.status))
        return response

    def writes(self, channel: str) -> list[Call]:
        """Accepted message writes (posts and updates) in ``channel``, in order."""
        return [
            c
            for c in self.timeline
            if c.status == 200
            and c.method in ("chat.postMessage", "chat.update")
            and c.args.get("channel") == channel
        ]

    def refused(self) -> int:
        return sum(1 for c in self.timeline if c.status == 429)


# ── redis-server and the bot's settings ─────────────────────────────────


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of our own on a free loopback port (the test suite's class)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is missing: `make bench` installs it")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        server = RedisServer(binary, Path(directory))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def bot_env(
    redis_url: str,
    llm: LLMStandIn | str,
    slack: SlackStandIn | None,
    data_dir: Path,
    *,
    rate_budget: bool = True,
    **extra: Any,
) -> dict[str, str]:
    """The bot's settings, as environment variables (names from the README); ``llm`` is the
    stand-in or its base URL; ``extra`` adds more (``worker_concurrency=500``). Per-user
    and per-channel turn limits are off: the bench measures capacity, not abuse protection.
    ``rate_budget=False`` turns the bot's Slack rate budget off (``SLACK_RATE_BUDGET=0``):
    the process, not Slack's per-workspace tiers, sets the pace."""
    env = {
        "REDIS_URL": redis_url,
        "DATA_DIR": str(data_dir),
        "MODEL": "openai/bench-model",
        "LLM_API_BASE": llm if isinstance(llm, str) else llm.base_url,
        "LLM_API_KEY": "sk-bench",
        "LLM_RETRIES": "0",
        "LOG_LEVEL": "WARNING",
        "SLACK_NATIVE_STREAMING": "0",
        "USER_TURNS_PER_MINUTE": "0",
        "CHANNEL_TURNS_PER_MINUTE": "0",
    }
    if slack is not None:
        env |= {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.base_url,
            "SLACK_RATE_BUDGET": "1" if rate_budget else "0",
        }
    return env | {k.upper(): str(v) for k, v in extra.items()}


def bot_settings(env: dict[str, str], **overrides: Any) -> Settings:
    """The same settings for a bot in this process (no .env file read)."""
    values: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    return Settings(_env_file=None, **(values | overrides))


# ── the bot in a child process ──────────────────────────────────────────


class BotProcess:
    """``python -m bench.botproc``: the Slack bot on loopback (``role="slack"``), a bare
    aiohttp handler (``"bare"``) or a turn worker with no front end (``"worker"``)."""

    def __init__(self, env: dict[str, str], *, role: str = "slack") -> None:
        self.env = {**os.environ, **env, "BENCH_ROLE": role}
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def probe(self) -> dict[str, list[float]]:
        """What the process saw since the last probe: server-side ack ms, event-loop lag ms."""
        async with (
            ClientSession() as http,
            http.get(f"http://127.0.0.1:{self.port}/bench/probe") as response,
        ):
            return await response.json()

    async def __aenter__(self) -> BotProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.botproc",
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        async with asyncio.timeout(60):
            while line := (await self.proc.stdout.readline()).decode():
                if line.startswith("READY "):
                    self.port = int(line.split()[1])
                    return self
        raise RuntimeError("the bot process stopped before it was ready")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            async with asyncio.timeout(15):
                await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


@contextlib.asynccontextmanager
async def fleet(env: dict[str, str], workers: int) -> AsyncIterator[BotProcess]:
    """A Slack front end that runs no turns, and ``workers`` worker processes on its Redis."""
    async with contextlib.AsyncExitStack() as stack:
        front = await stack.enter_async_context(BotProcess(env | {"RUN_TURNS": "0"}))
        for _ in range(workers):
            await stack.enter_async_context(BotProcess(env, role="worker"))
        yield front


@contextlib.asynccontextmanager
async def standins(
    *, slack: bool = True, limits: bool = False
) -> AsyncIterator[tuple[TimedLLM, TimedSlack | None]]:
    """The LLM and Slack stand-ins; ``limits``: the Slack one answers 429 past Slack's
    limits (else it enforces nothing)."""
    async with TimedLLM() as llm:
        if not slack:
            yield llm, None
            return
        async with TimedSlack() as server:
            if limits:
                server.enforce_rate_limits(RateLimits())
            yield llm, server
