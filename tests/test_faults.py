"""Fault injection with real processes: workers killed mid-turn, Redis restarted under them.

Each test runs ``tests.fault_worker`` processes (the real worker) on a real
redis-server with the loopback LLM, breaks something at a chosen point, and
then checks: no user message lost, no tool run twice, every history valid,
the person told.
"""

import asyncio
import signal

import pytest

from bot.output.messages import HANDED_BACK, RESTARTED, TAKEN_OVER
from tests.closing import closed
from tests.fleet import (
    ALICE,
    BOT_PROCESSES,
    GPU_JOB,
    Fleet,
    close_front_end,
    front_end,
    key,
    wait_for,
)
from tests.standins.llm import text, tool_calls
from tests.support import assert_history_valid

pytestmark = BOT_PROCESSES


@pytest.fixture
async def fleet(tmp_path, llm, redis_url):
    fleet = Fleet(tmp_path / "fleet", redis_url, llm.base_url)
    yield fleet
    fleet.close()


@pytest.fixture
async def front(llm, redis_url):
    runner, _ = front_end(llm, redis_url)
    yield runner
    await closed("the front end", close_front_end(runner))


def user_messages(session) -> list[str]:
    return [m["content"] for m in session.history if m["role"] == "user"]


async def test_sigkill_during_an_approved_job_hands_the_turn_over_without_rerunning_it(
    fleet, front, llm
):
    thread = key("kill-1")
    fleet.start(2)
    llm.script(
        tool_calls(("hf_jobs", {**GPU_JOB, "sleep": 60})),
        text("The job was cut off by a restart; shall I submit it again?"),
    )
    await front.submit(thread, {"kind": "message", "text": "train it", "user": "U_ALICE"})
    (approval,) = await wait_for(lambda: fleet.approvals(thread))
    assert (await front.decide(approval["approval_id"], ALICE, approved=True)).accepted

    (execution,) = await wait_for(lambda: fleet.ran(thread))
    fleet.signal(execution["pid"], signal.SIGKILL)
    await front.wait_idle()

    assert len(fleet.ran(thread)) == 1  # the survivor did not run the approved job again
    session = await front.store.load(thread)
    assert_history_valid(session)
    assert user_messages(session) == ["train it"]
    (result,) = [m for m in session.history if m["role"] == "tool"]
    assert result["content"] == RESTARTED
    assert session.history[-1]["content"].startswith("The job was cut off")
    assert TAKEN_OVER in fleet.notices(thread)
    assert len(llm.requests) == 2


async def test_sigterm_finishes_a_short_turn_then_exits_cleanly(fleet, front, llm):
    thread = key("term-1")
    (worker,) = fleet.start(1, SHUTDOWN_GRACE_SECONDS="30")
    answer = " ".join(["A calm answer, streamed in small pieces."] * 3)
    llm.script(text(answer, chunk_size=6, delay=0.03))
    await front.submit(thread, {"kind": "message", "text": "hello", "user": "U_ALICE"})
    await wait_for(lambda: fleet.messages(thread))

    fleet.signal(worker.pid, signal.SIGTERM)

    assert await fleet.exit_code(worker) == 0
    session = await front.store.load(thread)
    assert session.history[-1]["content"] == answer
    assert list(fleet.messages(thread).values()) == [answer]
    assert HANDED_BACK not in fleet.notices(thread)
    assert not await front.store.busy(thread)


async def test_sigterm_past_the_grace_hands_the_turn_to_another_worker(fleet, front, llm):
    thread = key("term-2")
    # A SIGTERM hands the turn back at once: the lease only has to outlast a loaded machine's
    # heartbeat gaps (a 1 s one lapsed there, and a worker took over the live turn).
    fleet.start(2, SHUTDOWN_GRACE_SECONDS="0.2", TURN_LEASE_SECONDS="5")
    llm.script(
        text("word " * 400, chunk_size=5, delay=0.02),  # far longer than the grace
        text("Picked up and finished."),
    )
    await front.submit(thread, {"kind": "message", "text": "write a lot", "user": "U_ALICE"})
    (first, *_) = await wait_for(lambda: fleet.shown(thread, "post"))

    leaving = fleet.signal(first["pid"], signal.SIGTERM)
    assert await fleet.exit_code(leaving) == 0
    await front.wait_idle()

    session = await front.store.load(thread)
    assert_history_valid(session)
    assert user_messages(session) == ["write a lot"]
    assert session.history[-1]["content"] == "Picked up and finished."
    notices = fleet.notices(thread)
    assert HANDED_BACK in notices and TAKEN_OVER in notices
    assert notices.index(HANDED_BACK) < notices.index(TAKEN_OVER)


async def test_redis_down_at_start_and_restarted_mid_turn(tmp_path, llm, redis_factory):
    server = redis_factory(durable=True)
    fleet = Fleet(tmp_path / "fleet", server.url, llm.base_url)
    front, _ = front_end(llm, server.url)
    try:
        server.stop()
        # a lease that outlasts a restart, as the default 30 s does (the fleet's 1 s, for
        # quick takeovers, can run out while a loaded machine restarts Redis)
        (worker,) = fleet.start(1, TURN_LEASE_SECONDS="10")
        await asyncio.sleep(1.0)  # the worker starts while Redis is down, and keeps trying
        assert worker.poll() is None
        server.start()

        thread = key("redis-1")
        answer = " ".join(["Streaming through a Redis restart."] * 6)
        llm.script(text(answer, chunk_size=5, delay=0.03))
        await front.submit(thread, {"kind": "message", "text": "go", "user": "U_ALICE"})
        await wait_for(lambda: fleet.messages(thread))
        server.stop()
        await asyncio.sleep(0.3)
        server.start()
        await front.wait_idle()

        session = await front.store.load(thread)
        assert_history_valid(session)
        assert [m["content"] for m in session.history] == ["go", answer]
        assert list(fleet.messages(thread).values()) == [answer]
    finally:
        fleet.close()
        await close_front_end(front)
