# ruff: noqa: F811
"""A turn's model use: the tokens the LLM stand-in reports (main agent and ``research``
sub-agent summed), their cost at LiteLLM's prices, shown by ``status``, kept in the
trace and the metrics, counted on the thread's auto-approve budget, and capping the
sub-agent."""

from __future__ import annotations

import dataclasses
import json

import pytest
from prometheus_client import REGISTRY

from agent import events as ev
from agent.llm import litellm, model_prices
from agent.loop import Agent, Turn
from agent.research import ResearchLimits, ResearchTool
from agent.session import Session
from agent.tools.registry import Tool, ToolRegistry
from agent.usage import Usage
from bot.approvals.actor import Actor
from bot.output.views import model_use_fact, status_facts
from bot.store.sessions import SessionStore
from bot.telemetry.traces import Tracer
from bot.turns.runner import TurnRunner
from tests import support
from tests.standins.hub import USER, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import Recorder, RecordingSurface

PRICED = "openai/gpt-4o-mini"
"""A model LiteLLM's map prices, served by the stand-in (``api_base``)."""
KEY = "test:T1:C1:1700000000.000100"
ALICE = Actor("U0ALICE")
REPO = f"{USER}/bot-traces"


async def _lookup(args, ctx):
    return f"found: {args.get('query')}"


def research_tools(llm, model: str = PRICED, **limits) -> ToolRegistry:
    """The test tools, a read-only ``lookup`` and ``research`` on ``model``."""
    tools = support.test_tools()
    tools.add(Tool("lookup", "Look it up.", {"type": "object"}, _lookup, read_only=True))
    config = dataclasses.replace(support.agent_config(llm), model=model)
    tools.add(ResearchTool(tools, config, ResearchLimits(**limits)).tool())
    return tools


def priced_agent(llm, tools: ToolRegistry, llm_client: str = "auto") -> Agent:
    config = support.agent_config(llm, llm_client=llm_client)
    return Agent(dataclasses.replace(config, model=PRICED), tools)


def script_research_turn(llm) -> None:
    """Main: research, then its answer; the sub-agent: a lookup, then its summary."""
    llm.script(
        tool_calls(("research", {"task": "find it"}), prompt_tokens=1_000),
        tool_calls(("lookup", {"query": "a"}), prompt_tokens=20_000),
        text("SUMMARY: found a.", prompt_tokens=30_000),
        text("Here it is.", prompt_tokens=4_000),
    )


def reported(llm) -> Usage:
    """What the stand-in reported, summed and priced from LiteLLM's own map."""
    price = litellm.model_cost["gpt-4o-mini"]
    usage = Usage()
    for u in llm.usages:
        cost = (
            u["prompt_tokens"] * price["input_cost_per_token"]
            + u["completion_tokens"] * price["output_cost_per_token"]
        )
        usage.add(u["prompt_tokens"], u["completion_tokens"], cost)
    return usage


def test_prices_come_from_litellms_map_and_unknown_models_have_none():
    price = litellm.model_cost["gpt-4o-mini"]
    assert model_prices(PRICED) == (price["input_cost_per_token"], price["output_cost_per_token"])
    assert model_prices("openai/test-model") is None  # not in the map: no invented price
    assert model_prices("huggingface/Qwen/Qwen2.5-72B-Instruct") is None  # listed at $0


@pytest.mark.parametrize("llm_client", ["auto", "litellm"])  # the openai client, or LiteLLM
async def test_a_turn_counts_its_own_and_its_research_sub_agents_model_use(llm, llm_client):
    agent = priced_agent(llm, research_tools(llm), llm_client)
    script_research_turn(llm)
    rec = Recorder()

    await agent.run(Session(key="k"), "research it", rec.turn)

    assert len(llm.usages) == 4, "two calls of the main agent, two of the sub-agent"
    expected, used = reported(llm), rec.turn.usage
    assert (used.prompt_tokens, used.completion_tokens) == (55_000, expected.completion_tokens)
    assert used.calls == 4 and used.unpriced == 0
    assert used.cost_usd == pytest.approx(expected.cost_usd)
    (output,) = rec.of(ev.ToolOutput)
    sub = llm.usages[1:3]
    sub_tokens = sum(u["total_tokens"] for u in sub)
    assert f"2 model calls, {sub_tokens:,} tokens, $" in output.output


async def test_a_model_without_a_price_counts_tokens_and_no_cost(llm):
    agent = support.make_agent(llm, research_tools(llm, model="openai/test-model"))
    script_research_turn(llm)
    rec = Recorder()

    await agent.run(Session(key="k"), "research it", rec.turn)

    used = rec.turn.usage
    assert used.total_tokens == sum(u["total_tokens"] for u in llm.usages) > 55_000
    assert used.calls == used.unpriced == 4 and used.cost_usd == 0
    assert "tokens, $" not in rec.of(ev.ToolOutput)[0].output


async def test_a_reply_stopped_before_its_usage_chunk_is_counted_as_estimated(llm):
    agent = priced_agent(llm, support.test_tools())
    llm.script(text("A long answer, streamed slowly. " * 20, chunk_size=4, delay=0.01))
    rec = Recorder()

    async def stop_at_the_first_chunk(event: ev.Event) -> None:
        rec.events.append(event)
        if isinstance(event, ev.AssistantChunk):
            rec.turn.cancel.set()

    rec.turn.emit = stop_at_the_first_chunk
    await agent.run(Session(key="k"), "tell me", rec.turn)

    assert ev.Interrupted in map(type, rec.events) and llm.usages == [], "no usage was sent"
    used = rec.turn.usage
    assert used.calls == 1 and used.prompt_tokens > 0 and used.completion_tokens > 0
    assert used.cost_usd > 0


def test_status_shows_a_cost_only_where_a_price_was_known():
    unpriced = Usage(1_000, 20, calls=2, unpriced=2).to_dict()
    mixed = Usage(2_000, 40, cost_usd=0.5, calls=3, unpriced=1).to_dict()
    status = {"status": "running", "usage": unpriced, "usage_total": mixed}
    assert model_use_fact(status) == (
        "this turn 1,020 tokens (1,000 prompt, 20 completion), cost unknown; this thread "
        "2,040 tokens (2,000 prompt, 40 completion), $0.5000 + 1 call of unknown price"
    )
    once = model_use_fact({"status": "idle", "usage": mixed, "usage_total": mixed})
    assert once.startswith("last turn 2,040 tokens") and "this thread" not in once


@pytest.mark.parametrize("where", ["turn's budget", "research's max_usd"])
async def test_research_stops_where_the_turns_budget_or_its_own_cap_is_spent(llm, where):
    first_call = 20_000 * model_prices(PRICED)[0]  # the sub-agent's first call costs more
    limits = {"max_usd": first_call / 2} if where == "research's max_usd" else {}
    agent = priced_agent(llm, research_tools(llm, **limits))
    llm.script(
        tool_calls(("research", {"task": "find it"}), prompt_tokens=10),
        tool_calls(("lookup", {"query": "a"}), prompt_tokens=20_000),
        text("PARTIAL: a.", prompt_tokens=10),  # the wrap-up, asked right after the lookup
        text("Here it is.", prompt_tokens=10),
    )
    rec = Recorder()
    cap = None if limits else first_call / 2
    rec.turn = Turn(emit=rec.emit, checkpoint=rec.checkpoint, usage=Usage(cap_usd=cap))

    await agent.run(Session(key="k"), "research it", rec.turn)

    (output,) = rec.of(ev.ToolOutput)
    assert output.output.startswith("PARTIAL: a.")
    assert "stopped: cost limit reached" in output.output
    assert llm.requests[2]["messages"][-1]["content"].startswith(
        "Stop researching now (cost limit reached"
    )
    assert len(llm.requests) == 4, "no second research step past the cap"
    assert rec.turn.usage.calls == 4, "the wrap-up counts too"


async def test_research_does_not_start_on_a_spent_budget(llm):
    agent = priced_agent(llm, research_tools(llm))
    llm.script(tool_calls(("research", {"task": "find it"})), text("Could not research."))
    rec = Recorder()
    rec.turn = Turn(emit=rec.emit, usage=Usage(cap_usd=0.0))

    await agent.run(Session(key="k"), "research it", rec.turn)

    (output,) = rec.of(ev.ToolOutput)
    assert not output.success and "research did not run (cost limit reached" in output.output
    assert len(llm.requests) == 2, "the sub-agent asked the model nothing"


# ── in the runtime: status, trace, budget ────────────────────────────────


async def test_status_trace_and_budget_count_the_turns_model_use_with_research(llm, redis, hub):
    agent = priced_agent(llm, research_tools(llm))
    tracer = Tracer(hub.api(), REPO, model=PRICED)
    runner = TurnRunner(
        agent, SessionStore(redis), {"test": lambda key, ref: RecordingSurface()}, tracer=tracer
    )
    try:
        llm.script(text("Hi.", prompt_tokens=100))
        await runner.submit(KEY, {"kind": "message", "text": "hello", "user": ALICE.user_id})
        await runner.wait_idle()
        first = reported(llm)
        await runner.set_budget(KEY, ALICE, 5)
        llm.usages.clear()
        counted = REGISTRY.get_sample_value("mib_model_tokens_total", {"kind": "prompt"})

        script_research_turn(llm)
        await runner.submit(KEY, {"kind": "message", "text": "go", "user": ALICE.user_id})
        await runner.wait_idle()

        turn = reported(llm)
        status = await runner.status(KEY)
        assert status["usage"]["prompt_tokens"] == 55_000 == turn.prompt_tokens
        assert status["usage"]["completion_tokens"] == turn.completion_tokens
        assert status["usage"]["calls"] == 4
        assert status["usage"]["cost_usd"] == pytest.approx(turn.cost_usd)
        total = first + turn
        assert status["usage_total"]["prompt_tokens"] == total.prompt_tokens == 55_100
        shown = dict(status_facts(status))["Model use"]
        assert shown.startswith(f"last turn {turn.total_tokens:,} tokens (55,000 prompt, ")
        assert f"; this thread {total.total_tokens:,} tokens" in shown

        metric = REGISTRY.get_sample_value("mib_model_tokens_total", {"kind": "prompt"})
        assert metric - counted == 55_000

        budget = await runner.controls.budgets.get(KEY)
        assert budget.spent == pytest.approx(turn.cost_usd), "the budget counts from when set"
        assert budget.spent > 0

        assert await tracer.flush()
        files = hub.repo(REPO, "dataset").files()
        records = [
            json.loads(line)
            for path, body in files.items()
            if path.startswith("traces/")
            for line in body.decode().splitlines()
        ]
        (traced,) = [r for r in records if r["usage"]["calls"] == 4]
        assert traced["usage"]["prompt_tokens"] == 55_000
        assert traced["usage"]["cost_usd"] == pytest.approx(turn.cost_usd)
    finally:
        await runner.close()
