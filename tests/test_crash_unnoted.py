"""Workers SIGKILLed the instant Slack made their message, before they could note it anywhere.

The Slack stand-in makes the message and then holds its answer (``hold(answered=True)``):
the worker waits for the ts, so nothing it runs after the call (the note in Redis of what
the turn shows) has happened when the test kills it. The worker taking the turn over
knows nothing of that message from Redis; it reads the thread back
(``conversations.replies``) and takes the message over: the placeholder, or the first
message of the answer (chat.update), is written in again; a native stream is marked as
interrupted and the answer follows below.

The fleet test does the same over many threads: every other SIGKILL of
``tests/test_crash_threads.py`` comes at such an instant instead of mid-stream.
"""

import asyncio
import signal

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.surface import SlackSurfaces
from agent.loop import Agent
from bot.output.messages import INTERRUPTED, TAKEN_OVER
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.fleet import BOT_PROCESSES, Fleet, wait_for
from tests.standins.slack import SlackStandIn
from tests.support import agent_config, test_tools
from tests.test_crash_threads import CHANNEL, WAVES, Crash, answer_to, crash_run, respond

pytestmark = BOT_PROCESSES

THREAD = "1700000100.000100"
QUESTION = "question u0"
MODES = {
    "placeholder": "chat.postMessage",  # no thread status: the turn's first call posts one
    "chat.update": "chat.postMessage",  # the status shows: the answer's first message
    "native stream": "chat.startStream",
}
"""Each case and the call whose answer is held while the worker is killed."""


class AtCreation(Crash):
    """Every other SIGKILL comes as Slack has made a message (a placeholder, a stream, a
    notice) and holds its answer, so its worker never learns the ts; the others mid-stream."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.method = "chat.postMessage"
        self.held_from: int | None = None  # where the held calls start in ``slack.calls``
        self.at_creation = 0  # SIGKILLs at such an instant
        self.releases: set[asyncio.Task] = set()

    async def streaming_worker(self, threads: list[str]) -> int | None:
        if len(self.killed) % 2:
            return await super().streaming_worker(threads)
        held = self.slack.held
        if self.held_from is None:
            self.held_from = len(self.slack.calls)
            held.hold(self.method, answered=True)
            return None
        if not held.waiting:
            return None
        made = [a for m, a in self.slack.calls[self.held_from :] if m == self.method]
        opened = {r["key"]: r["pid"] for r in self.fleet.records("turns.jsonl")}
        pid = opened.get(self.key(made[0]["thread_ts"]))
        (proc,) = [p for p in self.fleet.procs if p.pid == pid]
        self.held_from = None
        release = asyncio.create_task(self.release_once_dead(proc))
        self.releases.add(release)
        release.add_done_callback(self.releases.discard)
        self.at_creation += 1
        return pid

    async def release_once_dead(self, proc) -> None:
        """The held answers go on once the victim is dead (the others' calls waited too)."""
        await self.fleet.exit_code(proc)
        self.slack.held.release()


@pytest.fixture
async def slack():
    async with SlackStandIn() as server:
        yield server


@pytest.mark.parametrize("mode", list(MODES))
async def test_a_message_made_as_its_worker_died_is_taken_over(
    tmp_path, llm, redis_url, slack, mode
):
    native = mode == "native stream"
    llm.respond = respond
    slack.streaming_enabled = native
    if mode == "placeholder":
        slack.status_error = "missing_scope"
    env = {
        "FAULT_SLACK": "1",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": slack.base_url,
        "SLACK_NATIVE_STREAMING": "true" if native else "false",
    }
    fleet = Fleet(tmp_path / "fleet", redis_url, llm.base_url, **env)
    client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
    surfaces = SlackSurfaces(client, interval=0.0, native_streaming=native)
    store = SessionStore(connect(redis_url))
    front = TurnRunner(
        Agent(agent_config(llm), test_tools()), store, {"slack": surfaces}, consume=False
    )
    crash = Crash(fleet, front, slack)
    try:
        slack.held.hold(MODES[mode], answered=True)
        fleet.start(2)  # the one not running the turn takes it over once its lease ran out
        await crash.ask(THREAD, QUESTION)
        await wait_for(lambda: slack.held.waiting)  # Slack made the message; its ts waits
        (made,) = slack.thread(CHANNEL, THREAD)
        running = fleet.records("turns.jsonl")[0]["pid"]  # the worker that took the turn
        await fleet.exit_code(fleet.signal(running, signal.SIGKILL))
        slack.held.release()
        async with asyncio.timeout(60):
            await front.wait_idle()

        await crash.assert_reads_well(THREAD)
        shown = {m.ts: m.shown().strip() for m in slack.thread(CHANNEL, THREAD)}
        if native:  # a stream can't be written again: marked, the answer follows it
            assert shown[made.ts].endswith(INTERRUPTED), shown
            assert list(shown.values())[-1] == answer_to(QUESTION), shown
        else:  # the answer was written into the message the dead worker made
            assert shown[made.ts] == answer_to(QUESTION), shown
        if mode != "placeholder":  # the turn had started: it was carried on
            assert TAKEN_OVER in shown.values(), shown
    finally:
        fleet.close()
        await front.close()
        await store.redis.aclose()


class AtStreamStart(AtCreation):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.method = "chat.startStream"


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("native", [False, True], ids=["chat.update", "native stream"])
async def test_sigkills_as_slack_makes_messages_leave_one_whole_answer_per_question(
    tmp_path, llm, redis_url, slack, native
):
    crash_type = AtStreamStart if native else AtCreation
    crash = await crash_run(tmp_path, llm, redis_url, slack, native=native, crash_type=crash_type)

    assert len(crash.killed) == sum(WAVES)
    assert crash.at_creation == (sum(WAVES) + 1) // 2
    for thread in crash.asked:
        await crash.assert_reads_well(thread)
