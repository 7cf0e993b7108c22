"""Workers SIGKILLed mid-stream, over many Slack threads: each thread still reads well.

Three ``tests.fault_worker`` processes render through the real Slack surfaces into the
Slack stand-in (``FAULT_SLACK``), fed by a front end in this process that asks the way
Slack's does (a thread status, or a "thinking…" placeholder where Slack refuses one).
Questions come in waves; in each, workers streaming an answer are SIGKILLed, and the
survivors take their turns over. Then every thread is read as a person reads
it: exactly one whole answer per question, every partial answer marked as interrupted,
no placeholder, Stop button, open stream or status left; the session saved once per turn.

A worker is killed while it streams an answer, once every partial message of its
threads is known to it (the platform answered the calls that made them): a kill inside
such a round trip leaves a message no one knows of, which nothing but listing the thread
could find (the taker does: ``tests/test_crash_unnoted.py`` kills workers in that round
trip).
"""

import asyncio
import signal

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.conversations import THINKING
from adapters.slack.surface import SlackSurfaces
from agent.loop import Agent
from bot.output.messages import INTERRUPTED, TAKEN_OVER
from bot.session_key import SessionKey
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.closing import bounded
from tests.fleet import BOT_PROCESSES, Fleet, wait_for
from tests.standins.llm import text
from tests.standins.slack import SlackStandIn
from tests.support import agent_config, assert_history_valid, test_tools

pytestmark = BOT_PROCESSES

CHANNEL = "C0CRASH"
WORKERS = 3
WAVES = (2,)
"""SIGKILLs in each wave of questions: two workers of three at once."""
THREADS_PER_WAVE = 4
"""Threads asked at once in a wave; every other one gets a second question queued."""
SETTLE_SECONDS = 600.0
"""Generous: a loaded 2-core machine, a 2 s lease per takeover."""


def answer_to(question: str) -> str:
    tag = question.split()[-1]
    return f"Answer to {tag}: " + " ".join(f"{tag}-{n}" for n in range(40)) + " end."


def respond(body: dict) -> object:
    asked = [m["content"] for m in body["messages"] if m["role"] == "user" and m["content"]]
    return text(answer_to(asked[-1]), chunk_size=8, delay=0.04)


@pytest.fixture
async def slack():
    async with bounded("the Slack stand-in", SlackStandIn()) as server:
        yield server


class Crash:
    """The fleet, the front end, and the threads asked so far."""

    def __init__(self, fleet: Fleet, front: TurnRunner, slack: SlackStandIn) -> None:
        self.fleet = fleet
        self.front = front
        self.slack = slack
        self.asked: dict[str, list[str]] = {}  # thread ts -> its questions
        self.killed: list[int] = []

    def key(self, thread: str) -> str:
        return SessionKey("slack", "T0TEAM", CHANNEL, thread).encode()

    async def ask(self, thread: str, question: str) -> None:
        self.asked.setdefault(thread, []).append(question)
        assert await self.front.ask(self.key(thread), question, "U0ALICE", thinking=THINKING)

    def shown(self, thread: str) -> list[str]:
        return [m.shown().strip() for m in self.slack.thread(CHANNEL, thread)]

    def calls(self, ts: str) -> list[tuple[str, str, list[str]]]:
        """The calls that wrote message ``ts``: method, text, buttons (for a failure's report)."""
        return [
            (method, str(args.get("text", ""))[-20:], [b.get("type") for b in args["blocks"]])
            for method, args in self.slack.calls
            if args.get("ts") == ts and isinstance(args.get("blocks"), list)
        ]

    def partial(self, thread: str) -> list[str]:
        """The messages of the thread with an answer being written now."""
        whole = {answer_to(q) for q in self.asked[thread]}
        return [
            m.ts
            for m in self.slack.thread(CHANNEL, thread)
            if m.shown().startswith("Answer")
            and m.shown().strip() not in whole
            and INTERRUPTED not in m.shown()
        ]

    async def streaming_worker(self, threads: list[str]) -> int | None:
        """A live worker writing a partial answer in one of ``threads`` now, once every
        partial message of its threads is known to it (the platform answered the calls that
        made them): a kill between Slack making a message and the worker noting it would
        leave a message no one knows of."""
        opened = {r["key"]: r["pid"] for r in self.fleet.records("turns.jsonl")}
        alive = {p.pid for p in self.fleet.procs if p.poll() is None}
        noted = {}
        for thread in threads:
            visible = (await self.front.store.meta(self.key(thread))).get("visible") or {}
            noted[thread] = set(visible.get("refs", ()))
        # No await from here to the kill: the stand-in (this event loop) makes no message.
        mine: dict[int, list[str]] = {}
        for thread in threads:
            if (pid := opened.get(self.key(thread))) in alive:
                mine.setdefault(pid, []).append(thread)
        for pid, its in mine.items():
            writing = {thread: set(self.partial(thread)) for thread in its}
            streaming = any(writing[t] & noted[t] for t in its)
            if streaming and all(writing[t] <= noted[t] for t in its):
                return pid
        return None

    async def wave(self, number: int, kills: int) -> None:
        threads = [f"17000000{number:02d}.{n:06d}" for n in range(THREADS_PER_WAVE)]
        for n, thread in enumerate(threads):
            await self.ask(thread, f"question w{number}t{n}q0")
            if n % 2 == 0:  # queued behind the first: its placeholder or status waits
                await self.ask(thread, f"question w{number}t{n}q1")
        for _ in range(kills):
            victim = await wait_for(lambda: self.streaming_worker(threads), within=120)
            self.fleet.signal(victim, signal.SIGKILL)
            self.killed.append(victim)
        async with asyncio.timeout(SETTLE_SECONDS):
            await self.front.wait_idle()

    async def assert_reads_well(self, thread: str) -> None:
        messages = self.slack.thread(CHANNEL, thread)
        shown = [(m.ts, m.shown()[:30], m.button_ids(), m.streaming) for m in messages]
        shown += [self.calls(m.ts) for m in messages if m.button_ids()]
        answers = [answer_to(q) for q in self.asked[thread]]
        for answer in answers:
            assert self.shown(thread).count(answer) == 1, (thread, shown)
        for s in self.shown(thread):  # anything else from an answer is marked as interrupted
            if s.startswith("Answer") and s not in answers:
                assert s.endswith(INTERRUPTED), (thread, s)
        assert not any("thinking" in s for s in self.shown(thread)), (thread, shown)
        assert not any("mib:stop" in m.button_ids() for m in messages), (thread, shown)
        assert not any(m.streaming for m in messages), (thread, shown)
        assert self.slack.shown_status(CHANNEL, thread) == "", (thread, shown)
        session = await self.front.store.load(self.key(thread))
        assert_history_valid(session)
        talk = [m["content"] for m in session.history if m["role"] in ("user", "assistant")]
        assert talk == [
            part for q, a in zip(self.asked[thread], answers, strict=True) for part in (q, a)
        ]


async def crash_run(
    tmp_path, llm, redis_url, slack, *, native: bool, crash_type: type[Crash] = Crash
) -> Crash:
    llm.respond = respond
    slack.streaming_enabled = native
    if not native:
        slack.status_error = "missing_scope"  # every message gets a "thinking…" placeholder
    env = {
        "FAULT_SLACK": "1",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": slack.base_url,
        "SLACK_NATIVE_STREAMING": "true" if native else "false",
        "TURN_LEASE_SECONDS": "2",
        "SLACK_RATE_BUDGET": "0",  # pacing is tests/test_slack_thread.py's; here, kills only
    }
    fleet = Fleet(tmp_path / "fleet", redis_url, llm.base_url, **env)
    client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    surfaces = SlackSurfaces(client, interval=0.0, native_streaming=native, rate_budget=False)
    store = SessionStore(connect(redis_url))
    front = TurnRunner(
        Agent(agent_config(llm), test_tools()), store, {"slack": surfaces}, consume=False
    )
    crash = crash_type(fleet, front, slack)
    try:
        fleet.start(WORKERS)
        for number, kills in enumerate(WAVES):
            await crash.wave(number, kills)
    finally:
        fleet.close()
        await front.close()
        await store.redis.aclose()
    return crash


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("native", [False, True], ids=["chat.update", "native stream"])
async def test_sigkills_mid_stream_leave_one_whole_answer_per_question(
    tmp_path, llm, redis_url, slack, native
):
    crash = await crash_run(tmp_path, llm, redis_url, slack, native=native)

    assert len(crash.killed) == sum(WAVES)
    for thread in crash.asked:
        await crash.assert_reads_well(thread)
    taken_over = [t for t in crash.asked if TAKEN_OVER in crash.shown(t)]
    assert len(taken_over) >= len(WAVES)  # the kills cut answers short in every wave
