"""Sessions whose TTL ran out: the store's expiry index, claimed once by whichever process
sweeps, and Slack's agent session closed with them. Signed events to the real Bolt
endpoint, the loopback Slack Web API, a real redis-server and the loopback LLM; the
sweep is called with the time it sweeps at, as the runtime's loop calls it."""

import asyncio

from redis.asyncio import Redis

from adapters.slack.surface import slack_surfaces
from agent.session import Session
from bot.store.sessions import SessionStore
from bot.turns.expiry import close_expired
from tests import test_slack
from tests.closing import closed
from tests.standins.llm import text
from tests.standins.slack import TEAM
from tests.test_slack import CHANNEL

slack, make_bot = test_slack.slack, test_slack.make_bot  # its fixtures

DAY = 86_400


def closes(slack, thread: str) -> int:
    """How many times the thread's agent session was set ``closed``."""
    calls = slack.called("agents.sessions.setStatus")
    return sum(1 for c in calls if c["thread_ts"] == thread and c["status"] == "closed")


async def answered(bot, llm, words: str, thread: str | None = None) -> str:
    """Mention the bot (in ``thread``, else a new one) and wait for its answer; the thread."""
    llm.script(text(f"Answer to {words}."))
    event = await bot.send.mention(words, thread_ts=thread)
    thread = thread or event["ts"]
    await bot.settle(lambda: f"Answer to {words}." in bot.answer(thread))
    return thread


async def test_an_expired_session_is_closed_once_by_two_processes_sweeping_at_once(
    make_bot, slack, llm, redis_url
):
    slack.agent_sessions = True
    bot = await make_bot()
    thread = await answered(bot, llm, "hi")
    key = f"slack:{TEAM}:{CHANNEL}:{thread}"
    assert slack.sessions[(CHANNEL, thread)] == ["processing", "active"]

    # a second process: its own Redis connection, store and Slack surfaces
    other_redis = Redis.from_url(redis_url)
    other_surfaces = slack_surfaces(bot.rt.settings)
    try:
        other = SessionStore(other_redis, ttl_seconds=bot.rt.store.ttl)
        later = bot.rt.store.clock() + bot.rt.store.ttl + 1
        swept = await asyncio.gather(
            close_expired(bot.rt.store, bot.rt.runner.surfaces, later),
            close_expired(other, {"slack": other_surfaces}, later),
        )
    finally:
        await closed("the other Slack client", other_surfaces.aclose())
        await closed("the other Redis client", other_redis.aclose())

    assert sorted(swept, key=len) == [[], [key]]
    assert slack.sessions[(CHANNEL, thread)] == ["processing", "active", "closed"]
    assert await close_expired(bot.rt.store, bot.rt.runner.surfaces, later + DAY) == []
    assert closes(slack, thread) == 1


async def test_a_session_written_again_is_not_closed_when_it_would_have_expired(
    make_bot, slack, llm
):
    slack.agent_sessions = True
    bot = await make_bot()
    store, surfaces = bot.rt.store, bot.rt.runner.surfaces
    thread = await answered(bot, llm, "first")
    first_expiry = store.clock() + store.ttl  # no later than the first answer's write expires

    await answered(bot, llm, "second", thread)
    assert await close_expired(store, surfaces, first_expiry) == []
    assert slack.session_status(CHANNEL, thread) == "active"

    key = f"slack:{TEAM}:{CHANNEL}:{thread}"
    assert await close_expired(store, surfaces, store.clock() + store.ttl) == [key]
    assert closes(slack, thread) == 1


async def test_a_session_ended_by_new_is_not_closed_again_when_it_would_have_expired(
    make_bot, slack, llm
):
    slack.agent_sessions = True
    bot = await make_bot()
    thread = await answered(bot, llm, "hi")
    await bot.send.mention("new", thread_ts=thread)
    await bot.settle(lambda: slack.session_status(CHANNEL, thread) == "closed")

    later = bot.rt.store.clock() + bot.rt.store.ttl + DAY
    assert await close_expired(bot.rt.store, bot.rt.runner.surfaces, later) == []
    assert closes(slack, thread) == 1


async def test_each_expired_session_is_claimed_by_one_caller_and_only_once_expired(redis):
    now = 1_700_000_000.0
    first = SessionStore(redis, ttl_seconds=DAY, clock=lambda: now)
    second = SessionStore(redis, ttl_seconds=DAY, clock=lambda: now + 60)
    keys = [f"slack:T1:C1:{n}.000100" for n in range(120)]
    for key in keys:
        await first.save(Session(key))
    await second.save(Session("slack:T1:C1:late.000100"))  # written a minute later
    await first.save(Session("discord:G1:C1:1"))

    expired = now + DAY
    claims = await asyncio.gather(
        *(store.claim_expired("slack", expired, 50) for store in (first, second, first, second))
    )
    claimed = [key for claim in claims for key in claim]
    assert sorted(claimed) == sorted(keys)  # each once; not the one written later
    assert await first.claim_expired("slack", expired, 50) == []
    assert await first.claim_expired("slack", expired + 60, 50) == ["slack:T1:C1:late.000100"]
    assert await first.claim_expired("discord", expired, 50) == ["discord:G1:C1:1"]


async def test_deleting_a_session_takes_it_out_of_the_expiry_index(redis):
    store = SessionStore(redis, ttl_seconds=DAY, clock=lambda: 1_700_000_000.0)
    await store.save(Session("slack:T1:C1:gone"))
    await store.save(Session("slack:T1:C1:ended"))
    await store.save(Session("slack:T1:C1:ended-by-a-turn"))
    await store.delete("slack:T1:C1:gone")
    await store.finish("slack:T1:C1:ended", None)
    hold = await store.acquire_lock("slack:T1:C1:ended-by-a-turn", 30_000)
    await store.finish("slack:T1:C1:ended-by-a-turn", None, fence=hold)
    assert await store.claim_expired("slack", float("inf"), 10) == []
