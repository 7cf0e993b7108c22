"""Lock fencing: a turn whose session lock lapsed or was taken neither saves nor shows more.

A worker can lose its lock without dying (a loaded machine misses heartbeats, a pause):
the worker that takes the session carries the turn on, so the first must stop at once,
say nothing in the thread, and never save over the second.
"""

import asyncio

import pytest

from agent.session import Session
from bot.store import redis_keys
from bot.store.sessions import LockLost
from tests.closing import closed
from tests.fleet import key, wait_for
from tests.standins.llm import text
from tests.test_runner import Bot

THREAD = key("fencing")
LONG = " ".join(f"word{n}" for n in range(120))


@pytest.fixture
async def bot(llm, redis_url):
    made = Bot(llm, redis_url)
    made.runner.lock_ttl_ms = 600  # a heartbeat every 0.2 s
    yield made
    await closed("the bot", made.close())


async def test_a_turn_whose_lock_is_taken_stops_quietly_and_saves_nothing(bot, llm):
    llm.script(text(LONG, chunk_size=4, delay=0.02))
    await bot.runner.submit(THREAD, {"kind": "message", "text": "write", "user": "U_ALICE"})
    await wait_for(lambda: bot.surface.messages)

    await bot.redis.set(redis_keys.lock(THREAD), "another-worker", px=60_000)
    await wait_for(lambda: not bot.runner.queue.tasks)
    calls = list(bot.surface.calls)
    await asyncio.sleep(0.5)  # anything the old turn still had in flight would land now

    assert bot.surface.calls == calls  # it stopped editing
    assert LONG not in bot.surface.messages.values()
    assert bot.surface.notices == []  # no word in the thread: the new holder speaks
    session = await bot.store.load(THREAD)
    assert [m["role"] for m in session.history] == ["user"]  # the answer was not saved
    assert (await bot.store.meta(THREAD))["status"] == "running"
    assert await bot.store.current_input(THREAD) is not None  # left for the new holder
    pending = await bot.redis.xpending(redis_keys.TURNS, redis_keys.TURNS_GROUP)
    assert pending["pending"] == 1  # its stream entry was not acknowledged


async def test_fenced_writes_need_the_lock(bot):
    store = bot.store
    hold = await store.acquire_lock(THREAD, 30_000)
    await store.save(Session(key=THREAD), fence=hold, status="running")

    await bot.redis.delete(redis_keys.lock(THREAD))  # lapsed
    with pytest.raises(LockLost):
        await store.save(
            Session(key=THREAD, history=[{"role": "user", "content": "x"}]), fence=hold
        )
    assert not await store.extend_lock(THREAD, hold)
    taker = await store.acquire_lock(THREAD, 30_000)
    with pytest.raises(LockLost):
        await store.finish(THREAD, None, fence=hold)
    with pytest.raises(LockLost):
        await store.note(THREAD, fence=hold, status="idle")
    await store.push_input(THREAD, {"kind": "message", "text": "next"})
    with pytest.raises(LockLost):
        await store.take_input(THREAD, hold)
    assert (await store.take_input(THREAD, taker))["text"] == "next"
    assert await store.take_input(THREAD, taker) is None
    assert (await store.meta(THREAD))["status"] == "running"
    await store.finish(THREAD, Session(key=THREAD), fence=taker, status="idle")
    assert (await store.meta(THREAD))["status"] == "idle"


async def test_a_holder_keeps_its_lock_when_redis_lost_everything(bot):
    store = bot.store
    hold = await store.acquire_lock(THREAD, 30_000)
    await store.save(Session(key=THREAD), fence=hold, status="running")

    await bot.redis.delete(redis_keys.lock(THREAD), redis_keys.meta(THREAD))  # a restart
    assert await store.extend_lock(THREAD, hold)
    await store.save(Session(key=THREAD), fence=hold, status="idle")
    assert (await bot.redis.get(redis_keys.lock(THREAD))).decode() == hold.token
