"""Faults one runner meets in its own process: LLM errors and hangs, Redis gone at submit,
floods of messages, oversize input, a tool call offered twice; and what logs and metrics show.
"""

import dataclasses
import json
import logging

import pytest
from aiohttp import ClientSession
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from agent import llm as agent_llm
from agent.loop import Agent
from agent.session import PendingApproval, Session
from agent.tools.registry import ToolContext
from bot.approvals.actor import Actor
from bot.ops.http import build_http_app, serve
from bot.output.messages import ALREADY_STARTED, RESTARTED, STORE_DOWN, STORE_LOST, TAKEN_OVER
from bot.store.embedded import connect
from bot.store.sessions import SessionStore
from bot.telemetry.logs import ContextFormatter, log_context
from bot.telemetry.metrics import observe_llm, observing_llm
from bot.turns.commands import run_command
from bot.turns.limits import TurnLimits
from bot.turns.once import OnceTools
from bot.turns.runner import TurnRunner
from tests.closing import closed
from tests.fleet import key, wait_for
from tests.standins.llm import error, hang, text, tool_calls
from tests.support import RAN, RecordingSurface, agent_config, assert_history_valid, test_tools

THREAD = key("inprocess")


class Bot:
    def __init__(self, llm, redis, **options):
        self.redis = redis
        self.store = SessionStore(redis)
        self.surface = RecordingSurface()
        config = dataclasses.replace(agent_config(llm), **options.pop("agent", {}))
        self.runner = TurnRunner(
            Agent(config, test_tools()),
            self.store,
            {"test": lambda k, r: self.surface},
            **options,
        )

    async def say(self, words: str, user: str = "U_ALICE", thread: str = THREAD) -> bool:
        accepted = await self.runner.submit(
            thread, {"kind": "message", "text": words, "user": user}
        )
        await self.runner.wait_idle()
        return accepted


@pytest.fixture
async def make_bot(llm, redis_url):
    made: list[Bot] = []

    def make(**options) -> Bot:
        made.append(Bot(llm, connect(redis_url), **options))
        return made[-1]

    with observing_llm():  # what the runtime's lifespan does: model calls feed the metrics
        yield make
        for bot in made:
            await closed("a runner", bot.runner.close())
            await closed("a Redis client", bot.redis.aclose())


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_model_429_and_5xx_are_retried_and_the_answer_lands(make_bot, llm):
    bot = make_bot(agent={"llm_retries": 2})
    limited = metric("mib_llm_call_seconds_count", outcome="429")
    llm.script(
        error(429, "slow down", headers={"Retry-After": "0.05"}),
        error(503, "overloaded"),
        text("Third time lucky."),
    )

    await bot.say("hello")

    assert bot.surface.transcript() == "Third time lucky."
    assert len(llm.requests) == 3
    assert metric("mib_llm_call_seconds_count", outcome="429") == limited + 1
    assert_history_valid(await bot.store.load(THREAD))


@pytest.mark.parametrize(
    ("failure", "options", "told"),
    [
        (error(500, "boom"), {"llm_retries": 1}, "The model provider had an error (500)"),
        (hang(), {"llm_timeout": 0.3}, "The model did not answer in time"),
    ],
)
async def test_model_failures_end_readably_and_the_next_message_works(
    make_bot, llm, failure, options, told
):
    bot = make_bot(agent=options)
    llm.script(*[failure] * (options.get("llm_retries", 0) + 1), text("Back again."))

    await bot.say("first try")
    assert any(told in n for n in bot.surface.notices), bot.surface.notices
    await bot.say("second try")

    session = await bot.store.load(THREAD)
    assert [m["content"] for m in session.history] == ["first try", "second try", "Back again."]
    assert (await bot.store.meta(THREAD))["status"] == "idle"


async def test_redis_down_at_submit_tells_the_person(llm, redis_factory):
    server = redis_factory()
    server.stop()
    bot = Bot(llm, Redis.from_url(server.url))  # no retries: fail at once
    try:
        assert not await bot.runner.submit(THREAD, {"kind": "message", "text": "hi"})
        assert bot.surface.notices == [STORE_DOWN]
        assert llm.requests == []
    finally:
        await bot.runner.close()
        await bot.redis.aclose()


async def test_redis_down_session_commands_answer_store_down_or_tell_the_thread(llm, redis_factory):
    server = redis_factory()
    server.stop()
    bot = Bot(llm, Redis.from_url(server.url))  # no retries: fail at once
    alice = Actor("U_ALICE")
    try:
        for name, argument in (("status", ""), ("stop", ""), ("autoapprove", "$5")):
            reply = await run_command(bot.runner, THREAD, alice, name, argument, draw_status=str)
            assert reply == STORE_DOWN, name
        assert bot.surface.notices == []
        assert await run_command(bot.runner, THREAD, alice, "undo", draw_status=str) is None
        assert bot.surface.notices == [STORE_DOWN]  # the runner told the thread itself
    finally:
        await bot.runner.close()
        await bot.redis.aclose()


async def test_redis_lost_mid_turn_is_said_and_the_turn_carried_on_when_it_returns(
    llm, redis_factory
):
    server = redis_factory(durable=True)
    bot = Bot(llm, Redis.from_url(server.url), lock_ttl_ms=1000)  # no retries: fail at once
    llm.script(tool_calls(("slow", {"seconds": 0.3})), text("Carried on."))
    try:
        await bot.runner.submit(THREAD, {"kind": "message", "text": "go", "user": "U1"})
        await wait_for(lambda: RAN)
        server.stop()  # the slow tool's result can't be saved
        await wait_for(lambda: STORE_LOST in " ".join(bot.surface.notices))
        server.start()
        await bot.runner.wait_idle()

        session = await bot.store.load(THREAD)
        assert_history_valid(session)
        assert [m["content"] for m in session.history if m["role"] == "user"] == ["go"]
        assert session.history[-2]["content"] == RESTARTED
        assert session.history[-1]["content"] == "Carried on."
        assert TAKEN_OVER in bot.surface.notices
        assert RAN == [("slow", {"seconds": 0.3})]
    finally:
        await bot.runner.close()
        await bot.redis.aclose()


async def test_a_worker_dead_around_an_approval_card_gets_the_card_posted_again(
    make_bot, llm, redis
):
    # The state a worker leaves when it dies between saving the pause and posting the card.
    call = {"id": "call_9", "type": "function", "function": {"name": "hf_jobs", "arguments": "{}"}}
    store = SessionStore(redis)
    item = await store.push_input(THREAD, {"kind": "message", "text": "train", "user": "U_ALICE"})
    await store.take_input(THREAD)
    session = Session(key=THREAD, history=[{"role": "user", "content": "train"}])
    session.history.append({"role": "assistant", "content": None, "tool_calls": [call]})
    session.pending = PendingApproval("appr1", [call])
    await store.save(session, turn=item["turn_id"], requester="U_ALICE")
    bot = make_bot()

    await bot.runner.recover()
    await bot.runner.wait_idle()
    (card,) = bot.surface.approvals
    llm.script(text("Submitted."))
    assert (await bot.runner.decide(card.approval_id, Actor("U_ALICE"), approved=True)).accepted
    await bot.runner.wait_idle()

    assert card.approval_id == "appr1" and card.tools[0]["tool_call_id"] == "call_9"
    assert RAN == [("hf_jobs", {})]
    session = await bot.store.load(THREAD)
    assert_history_valid(session)
    assert session.history[-1]["content"] == "Submitted."


async def test_a_worker_dead_after_saving_its_answer_has_it_shown_not_asked_again(
    make_bot, llm, redis
):
    # The state a worker leaves when it dies between its turn's last checkpoint and its end.
    store = SessionStore(redis)
    item = await store.push_input(THREAD, {"kind": "message", "text": "hi", "user": "U_ALICE"})
    await store.take_input(THREAD)
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"}]
    await store.save(Session(key=THREAD, history=history), turn=item["turn_id"])
    bot = make_bot()

    await bot.runner.recover()
    await bot.runner.wait_idle()

    assert llm.requests == []  # the model is not asked again
    assert list(bot.surface.messages.values()) == ["Hello!"]
    assert (await bot.store.load(THREAD)).history == history
    assert not await bot.store.busy(THREAD)


async def test_turn_starts_are_limited_per_user_and_per_channel(make_bot, llm, redis):
    bot = make_bot(limits=TurnLimits(redis, per_user=2, per_channel=3))
    llm.default = text("ok")

    outcomes = [await bot.say(f"a{n}") for n in range(3)]
    outcomes += [await bot.say(f"b{n}", user="U_BOB") for n in range(2)]
    elsewhere = await bot.say("c", user="U_CAROL", thread=key("other").replace(":C1:", ":C2:"))

    assert outcomes == [True, True, False, True, False]
    assert elsewhere
    assert len(llm.requests) == 4
    assert sum("Too many requests" in n for n in bot.surface.notices) == 2


async def test_an_oversize_message_is_refused_with_a_reason(make_bot, llm):
    bot = make_bot(max_input_chars=100)

    assert not await bot.say("x" * 101)

    assert "too long (101 characters; the limit is 100)" in bot.surface.notices[0]
    assert await bot.store.load(THREAD) is None and llm.requests == []


async def test_a_tool_call_offered_twice_runs_once(redis):
    tools = OnceTools(test_tools(), SessionStore(redis))
    call = {"id": "call_1", "type": "function", "function": {"name": "echo", "arguments": "{}"}}
    session = Session(key=THREAD, history=[{"role": "assistant", "tool_calls": [call]}])
    ctx = ToolContext(session=session, tool_call_id="call_1")

    with log_context(THREAD, "turn1"):
        first = await tools.call("echo", {"text": "hi"}, ctx)
        again = await tools.call("echo", {"text": "hi"}, ctx)
    with log_context(THREAD, "turn2"):  # the same provider id in a later turn is a new call
        later = await tools.call("echo", {"text": "hi"}, ctx)

    assert first.output == "echo: hi" and later.output == "echo: hi"
    assert again.output == ALREADY_STARTED and not again.success
    assert RAN == [("echo", {"text": "hi"})] * 2


def test_log_records_carry_the_session_and_turn_and_no_secrets():
    token = "hf_" + "A1b2C3d4" * 5
    record = logging.LogRecord("bot", logging.WARNING, __file__, 1, "sent %s", (token,), None)

    with log_context(THREAD, "t-42"):
        line = ContextFormatter().format(record)
        entry = json.loads(ContextFormatter(json_lines=True).format(record))

    assert f"session={THREAD} turn=t-42" in line and token not in line
    assert entry["session"] == THREAD and entry["turn"] == "t-42"
    assert entry["message"] == "sent [redacted]"


async def test_metrics_show_the_queue_and_platform_calls(make_bot, llm, redis, unused_tcp_port):
    bot = make_bot()
    llm.script(text("counted"))
    await bot.say("hi")
    await bot.store.push_input(key("waiting"), {"kind": "message", "text": "queued"})
    site = await serve(build_http_app(redis), unused_tcp_port, host="127.0.0.1")
    try:
        async with (
            ClientSession() as http,
            http.get(f"http://127.0.0.1:{unused_tcp_port}/metrics") as resp,
        ):
            body = await resp.text()
    finally:
        await site.cleanup()

    assert "mib_queue_depth 1.0" in body
    for name in ("mib_llm_call_seconds_bucket", "mib_platform_calls_total", "mib_approvals_total"):
        assert name in body
    assert 'mib_platform_calls_total{method="post"}' in body


def test_model_calls_feed_the_metrics_once_while_any_runtime_runs():
    first, second = observing_llm(), observing_llm()  # two lifespans in one process
    first.__enter__()
    second.__enter__()
    assert agent_llm.OBSERVERS.count(observe_llm) == 1
    first.__exit__(None, None, None)
    assert agent_llm.OBSERVERS.count(observe_llm) == 1
    second.__exit__(None, None, None)
    assert observe_llm not in agent_llm.OBSERVERS
