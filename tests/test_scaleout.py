"""Three worker processes on one real Redis, fed by front ends in this process.

The workers are started once for the module (they take seconds to import
LiteLLM); each test uses its own session keys on the shared redis-server.
"""

import asyncio
from collections import Counter

import pytest
import pytest_asyncio

from bot.approvals.actor import Actor
from tests.closing import bounded, closed
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
from tests.standins.llm import LLMStandIn, hang, text, tool_calls
from tests.support import assert_history_valid

pytestmark = [pytest.mark.asyncio(loop_scope="module"), BOT_PROCESSES]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def llm():
    async with bounded("the LLM stand-in", LLMStandIn()) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory, llm, redis_server):
    if not redis_server.running:
        redis_server.start()
    fleet = Fleet(tmp_path_factory.mktemp("fleet"), redis_server.url, llm.base_url)
    # Each worker's first platform calls fail. No worker dies here, so the lease is long:
    # on a loaded machine a 1 s lease can lapse between heartbeats and a second worker
    # would take over a live turn (a lost lease does not stop the first one yet).
    fleet.start(3, FAULT_PLATFORM="429,5xx,429", TURN_LEASE_SECONDS="5")
    yield fleet
    fleet.close()


@pytest_asyncio.fixture(loop_scope="module")
async def fronts(llm, redis_server, fleet):
    """Two front-end processes' runners (separate Redis clients), queueing only."""
    runners = [front_end(llm, redis_server.url)[0] for _ in range(2)]
    yield runners
    for runner in runners:
        await closed("a front end", close_front_end(runner))


async def test_sessions_spread_over_workers_run_each_input_once_and_in_order(fleet, fronts, llm):
    llm.default = text("ok", delay=0.01)
    asked = len(llm.requests)
    threads = [key(f"scale-{n}") for n in range(6)]

    async def converse(n: int, thread: str) -> None:
        front = fronts[n % 2]
        for m in range(3):
            await front.submit(thread, {"kind": "message", "text": f"m{m}", "user": "U_ALICE"})

    try:
        await asyncio.gather(*(converse(n, t) for n, t in enumerate(threads)))
        await asyncio.gather(*(front.wait_idle() for front in fronts))
    finally:
        llm.default = None

    for thread in threads:
        session = await fronts[0].store.load(thread)
        assert [m["content"] for m in session.history] == ["m0", "ok", "m1", "ok", "m2", "ok"]
        assert list(fleet.messages(thread).values()) == ["ok", "ok", "ok"]  # despite 429/5xx
    assert len(llm.requests) - asked == 18  # each input ran once
    refused = [r["status"] for t in threads for r in fleet.shown(t, "refused")]
    assert {"429", "5xx"} <= set(refused)
    assert {r["pid"] for t in threads for r in fleet.shown(t)} <= {p.pid for p in fleet.procs}


async def test_stop_clicked_on_any_front_end_reaches_the_worker_running_the_turn(
    fleet, fronts, llm
):
    thread = key("stop-1")
    llm.script(hang())
    asked = len(llm.requests)
    await fronts[0].submit(thread, {"kind": "message", "text": "long essay", "user": "U_ALICE"})
    await wait_for(lambda: len(llm.requests) > asked)
    await wait_for(lambda: fronts[1].store.locked(thread))

    assert await fronts[1].stop(thread)
    await fronts[0].wait_idle()

    assert "⏹️ Stopped." in fleet.notices(thread)
    session = await fronts[0].store.load(thread)
    assert [m["content"] for m in session.history] == ["long essay"]
    assert (await fronts[0].store.meta(thread))["status"] == "idle"
    assert not await fronts[1].stop(thread)


async def test_concurrent_duplicate_clicks_and_retried_events_act_once(fleet, fronts, llm):
    thread = key("clicks-1")
    llm.script(tool_calls(("hf_jobs", GPU_JOB)), text("Job submitted."))
    event = {"kind": "message", "text": "train", "user": "U_ALICE", "event_id": "Ev-clicks-1"}
    accepted = await asyncio.gather(*(f.submit(thread, dict(event)) for f in fronts * 2))
    assert sorted(accepted) == [False, False, False, True]
    (approval,) = await wait_for(lambda: fleet.approvals(thread))
    call_id = approval["tools"][0]["tool_call_id"]

    clicks = [
        front.decide(approval["approval_id"], ALICE, tool_call_id=call_id, approved=True)
        for front in fronts * 4
    ] + [fronts[1].decide(approval["approval_id"], Actor("U_MALLORY"), approved=True)]
    results = Counter(d.result for d in await asyncio.gather(*clicks))
    await asyncio.gather(*(front.wait_idle() for front in fronts))

    assert results["complete"] == 1 and results["forbidden"] == 1
    assert set(results) <= {"complete", "already", "decided", "forbidden"}
    assert [r["args"]["script"] for r in fleet.ran(thread)] == ["train()"]
    session = await fronts[0].store.load(thread)
    assert_history_valid(session)
    assert [m["content"] for m in session.history if m["role"] == "user"] == ["train"]
    assert session.history[-1]["content"] == "Job submitted."
