"""The turn runner on a real redis-server: ordering, approvals, restarts, stop."""

import asyncio

import pytest

from agent import events as ev
from agent.loop import Agent
from agent.session import Session
from bot.approvals.actor import Actor
from bot.session_key import SessionKey
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.turns.runner import TurnRunner
from tests.closing import closed
from tests.standins.llm import hang, text, tool_calls
from tests.support import (
    RAN,
    RecordingSurface,
    agent_config,
    assert_history_valid,
    eventually,
    test_tools,
)

KEY = SessionKey("test", "T1", "C1", "1700000000.000100").encode()
GPU_JOB = {"operation": "run", "hardware_flavor": "a10g-small", "script": "print(1)"}
ALICE = Actor("U_ALICE")


class Bot:
    """A runner with its own agent, store and Redis client, as one process would have."""

    def __init__(self, llm, redis_url, approvers=frozenset(), tools=None):
        self.redis = connect(redis_url)
        self.store = SessionStore(self.redis)
        self.surface = RecordingSurface()
        self.agent = Agent(agent_config(llm), tools or test_tools())
        self.runner = TurnRunner(
            self.agent, self.store, {"test": lambda key, ref: self.surface}, approvers=approvers
        )

    async def say(self, text_: str, user: str = "U_ALICE") -> None:
        await self.runner.submit(KEY, {"kind": "message", "text": text_, "user": user})

    async def close(self):
        await self.runner.close()
        await self.redis.aclose()


@pytest.fixture
async def bot(llm, redis_url):
    b = Bot(llm, redis_url)
    yield b
    await closed("the bot", b.close())


async def test_a_turn_is_saved_in_redis_and_rendered(bot, llm):
    llm.script(text("Hi from the bot."))
    await bot.say("hello")
    await bot.runner.wait_idle()

    session = await bot.store.load(KEY)
    assert [m["role"] for m in session.history] == ["user", "assistant"]
    assert bot.surface.transcript() == "Hi from the bot."
    meta = await bot.store.meta(KEY)
    assert meta["status"] == "idle" and meta["requester"] == "U_ALICE"
    assert await bot.redis.ttl(f"mib:session:{KEY}") > 29 * 86400


async def test_two_messages_in_one_thread_run_in_order(bot, llm):
    llm.script(text("first answer", delay=0.02), text("second answer"))
    await asyncio.gather(bot.say("one"), bot.say("two"))
    await bot.runner.wait_idle()

    session = await bot.store.load(KEY)
    assert [m["content"] for m in session.history] == [
        "one",
        "first answer",
        "two",
        "second answer",
    ]
    # the second request saw the whole first turn
    assert [m["content"] for m in llm.requests[1]["messages"][1:]] == ["one", "first answer", "two"]


async def test_second_process_waits_for_the_lock_and_nothing_is_lost(llm, redis_url):
    a, b = Bot(llm, redis_url), Bot(llm, redis_url)
    try:
        llm.script(text("from a", delay=0.02), text("from b"))
        await a.say("to a")
        await asyncio.sleep(0.05)  # a holds the session lock now
        await b.say("to b")
        await asyncio.gather(a.runner.wait_idle(), b.runner.wait_idle())
        await a.runner.wait_idle()

        session = await a.store.load(KEY)
        assert [m["content"] for m in session.history] == ["to a", "from a", "to b", "from b"]
    finally:
        await a.close()
        await b.close()


async def _pause_on_job(bot, llm):
    llm.script(tool_calls(("hf_jobs", GPU_JOB)))
    await bot.say("train")
    await bot.runner.wait_idle()
    (approval,) = bot.surface.approvals
    return approval


async def test_approval_survives_a_restart_of_every_process_object(llm, redis_url):
    first = Bot(llm, redis_url)
    approval = await _pause_on_job(first, llm)
    await first.close()
    assert (await first.store.meta(KEY))["status"] == "awaiting_approval"

    second = Bot(llm, redis_url)  # new process objects, same Redis
    try:
        llm.script(text("Started."))
        decided = await second.runner.decide(approval.approval_id, ALICE, approved=True)
        await second.runner.wait_idle()

        assert decided.result == "complete"
        assert RAN == [("hf_jobs", GPU_JOB)]
        session = await second.store.load(KEY)
        assert session.pending is None
        assert_history_valid(session)
        assert second.surface.transcript() == "Started."
    finally:
        await second.close()


async def test_double_and_concurrent_clicks_execute_once(bot, llm):
    approval = await _pause_on_job(bot, llm)
    llm.script(text("Started."))
    call_id = approval.tools[0]["tool_call_id"]

    results = await asyncio.gather(
        *[
            bot.runner.decide(approval.approval_id, ALICE, tool_call_id=call_id, approved=True)
            for _ in range(5)
        ]
    )
    await bot.runner.wait_idle()

    outcomes = [r.result for r in results]
    assert outcomes.count("complete") == 1
    assert set(outcomes) - {"complete"} <= {"already", "decided"}
    assert RAN == [("hf_jobs", GPU_JOB)]
    again = await bot.runner.decide(approval.approval_id, ALICE, approved=False)
    assert again.result == "decided" and not again.accepted


async def test_only_the_requester_decides_when_no_approvers_are_set(bot, llm):
    approval = await _pause_on_job(bot, llm)

    refused = await bot.runner.decide(approval.approval_id, Actor("U_BOB"), approved=True)

    assert refused.result == "forbidden"
    assert (await bot.store.approval(approval.approval_id)).status == "open"
    assert RAN == []


async def test_approvers_list_admits_members_and_groups(llm, redis_url):
    bot = Bot(llm, redis_url, approvers=frozenset({"U_LEAD", "role:42"}))
    try:
        approval = await _pause_on_job(bot, llm)
        assert (
            await bot.runner.decide(approval.approval_id, ALICE, approved=True)
        ).result == "forbidden"
        llm.script(text("ok"))
        via_role = Actor("U_CAROL", groups=frozenset({"role:42"}))
        assert (await bot.runner.decide(approval.approval_id, via_role, approved=True)).accepted
        await bot.runner.wait_idle()
        assert RAN == [("hf_jobs", GPU_JOB)]
    finally:
        await bot.close()


async def test_click_after_a_new_message_abandoned_the_approval(bot, llm):
    approval = await _pause_on_job(bot, llm)
    llm.script(text("Fine, no job."))
    await bot.say("forget it")
    await bot.runner.wait_idle()

    late = await bot.runner.decide(approval.approval_id, ALICE, approved=True)

    assert late.result == "abandoned"
    assert RAN == []
    assert_history_valid(await bot.store.load(KEY))


async def test_per_call_decisions_resume_only_when_all_are_in(bot, llm):
    llm.script(tool_calls(("hf_jobs", GPU_JOB), ("sandbox_create", {"hardware": "t4-small"})))
    await bot.say("go")
    await bot.runner.wait_idle()
    (approval,) = bot.surface.approvals
    job_id, sandbox_id = (t["tool_call_id"] for t in approval.tools)

    first = await bot.runner.decide(approval.approval_id, ALICE, tool_call_id=job_id, approved=True)
    assert first.result == "recorded" and RAN == []
    llm.script(text("Done."))
    second = await bot.runner.decide(
        approval.approval_id, ALICE, tool_call_id=sandbox_id, approved=False, feedback="no sandbox"
    )
    await bot.runner.wait_idle()

    assert second.result == "complete"
    assert RAN == [("hf_jobs", GPU_JOB)]
    session = await bot.store.load(KEY)
    assert_history_valid(session)
    assert any("no sandbox" in (m.get("content") or "") for m in session.history)


async def test_stop_ends_a_running_turn(bot, llm):
    llm.script(hang())
    await bot.say("long essay")
    await eventually(lambda: llm.requests)
    await asyncio.sleep(0.1)

    assert await bot.runner.stop(KEY)
    await bot.runner.wait_idle()

    assert "⏹️ Stopped." in bot.surface.notices
    assert (await bot.store.meta(KEY))["status"] == "idle"
    assert not await bot.runner.stop(KEY)  # nothing runs any more


async def test_undo_new_and_status(bot, llm):
    llm.script(text("one"), text("two"))
    await bot.say("a")
    await bot.say("b")
    await bot.runner.wait_idle()
    assert (await bot.runner.status(KEY))["history_size"] == 4

    await bot.runner.submit(KEY, {"kind": "undo"})
    await bot.runner.wait_idle()
    assert (await bot.runner.status(KEY))["history_size"] == 2

    await bot.runner.submit(KEY, {"kind": "new"})
    await bot.runner.wait_idle()
    assert await bot.store.load(KEY) is None
    assert (await bot.runner.status(KEY))["history_size"] == 0


async def test_redis_restart_mid_turn_leaves_a_consistent_session(bot, llm, redis_server):
    llm.script(text("A long answer that streams slowly. " * 4, chunk_size=4, delay=0.03))
    await bot.say("go")
    await eventually(lambda: llm.requests)

    redis_server.stop()
    await asyncio.sleep(0.3)
    redis_server.start()
    await bot.runner.wait_idle()

    session = await bot.store.load(KEY)
    assert isinstance(session, Session)
    assert session.history[-1] == {
        "role": "assistant",
        "content": "A long answer that streams slowly. " * 4,
    }
    assert_history_valid(session)


async def test_queued_inputs_left_by_a_dead_process_are_recovered(llm, redis_url):
    bot = Bot(llm, redis_url)
    try:
        await bot.store.push_input(KEY, {"kind": "message", "text": "left behind", "user": "U1"})
        llm.script(text("Picked up."))
        await bot.runner.recover()
        await bot.runner.wait_idle()
        assert bot.surface.transcript() == "Picked up."
    finally:
        await bot.close()


async def test_job_status_lines_update_one_message_across_turns(bot):
    await bot.runner._notify(KEY, ev.JobStatus(key="job:1", text="⏳ queued"))
    await bot.runner._notify(KEY, ev.JobStatus(key="job:1", text="✅ completed", final=True))
    assert list(bot.surface.lines.values()) == ["✅ completed"]
