# ruff: noqa: F811
# (tests take the imported `hub` fixture as an argument, which F811 sees as a redefinition)
"""The model can price a job before asking: hf_jobs ``hardware`` on the Hub stand-in, its
fallback to list prices, and the same figure on the approval card."""

from __future__ import annotations

from typing import Any

import pytest

from agent.research import ReadOnlyTools
from agent.session import Session
from agent.tools import build_hf_tools
from agent.tools.hardware import LIST_PRICES_USD_PER_HOUR, CostEstimator
from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from bot.approvals.card import approval_note
from bot.runtime import runtime
from tests.standins.hub import TOKEN, HubStandIn, hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import RecordingSurface, eventually, hub_bot_settings

KEY = "test:T1:C1:1700000000.000200"
L4_HOURLY = 15_000 / 1e6 * 60  # the stand-in's per-minute price of l4x1: $0.90 an hour
PRICE = {"operation": "hardware", "hardware_flavor": "l4x1", "timeout": "100m"}
RUN = {
    "operation": "run",
    "command": ["python", "train.py"],
    "hardware_flavor": "l4x1",
    "timeout": "100m",
}


def tools(hub: HubStandIn, tmp_path, costs: CostEstimator | None = None) -> ToolRegistry:
    return ToolRegistry(build_hf_tools(hub.api(), sandbox_root=tmp_path, costs=costs))


async def hardware(registry: ToolRegistry, **args: Any) -> ToolResult:
    ctx = ToolContext(session=Session(key=KEY))
    return await registry.call("hf_jobs", {"operation": "hardware", **args}, ctx)


async def test_hardware_lists_the_hubs_flavors_with_specs_and_prices(hub, tmp_path):
    result = await hardware(tools(hub, tmp_path))
    assert result.success, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Hardware for jobs, USD per hour (the Hub's hardware list):"
    assert "cpu-basic: 2 vCPU · 16 GB RAM · no GPU · $0.01/h" in lines
    assert "l4x1: 8 vCPU · 30 GB RAM · 1× Nvidia L4, 24 GB · $0.90/h" in lines  # not $0.80
    assert "a100-large: $2.50/h" in lines  # not listed by the Hub: the list price
    assert "at most" not in result.output  # no flavor asked: no job priced
    assert hub.calls("GET", r"^/api/jobs/hardware$")


async def test_a_flavor_and_timeout_give_the_jobs_worst_case(hub, tmp_path):
    registry = tools(hub, tmp_path)
    priced = await hardware(registry, hardware_flavor="l4x1", timeout="100m")
    assert priced.output.endswith(
        "A job on l4x1 with timeout 100 min: at most $1.50 ($0.90/h × 100 min), "
        "the figure its approval card will show. State it in the pre-flight checklist."
    )
    default = await hardware(registry, hardware_flavor="a10g-small")
    assert "A job on a10g-small with timeout 30 min (the default): at most $0.50" in default.output
    unknown = await hardware(registry, hardware_flavor="quantum-xl", timeout="2h")
    assert "quantum-xl (an unknown flavor, priced like the largest)" in unknown.output
    assert "at most $80.00 ($40.00/h × 2 h)" in unknown.output


async def test_a_failing_hub_falls_back_to_the_list_prices(hub, tmp_path):
    hub.fail(r"/api/jobs/hardware", 503)
    result = await hardware(tools(hub, tmp_path), hardware_flavor="l4x1", timeout="100m")
    assert result.success, result.output  # prices still come, from the list
    assert result.output.splitlines()[0] == (
        "Hardware for jobs, USD per hour "
        "(list prices: the Hub's hardware list did not answer, so specs are unknown):"
    )
    assert "l4x1: $0.80/h" in result.output.splitlines()
    assert len(result.output.splitlines()) >= len(LIST_PRICES_USD_PER_HOUR)
    assert "at most $1.33 ($0.80/h × 100 min)" in result.output


async def test_the_research_sub_agent_may_price_but_not_run(hub, tmp_path):
    reads = ReadOnlyTools(tools(hub, tmp_path))
    ctx = ToolContext(session=Session(key=KEY))
    assert "hf_jobs (hardware only)" in reads.describe()
    priced = await reads.call("hf_jobs", PRICE, ctx)
    assert priced.success and "at most $1.50" in priced.output
    refused = await reads.call("hf_jobs", RUN, ctx)
    assert not refused.success and not hub.calls("POST", r"^/api/jobs/")


async def test_a_sandbox_is_priced_the_same_way(hub, tmp_path):
    costs = CostEstimator()
    await costs.load(hub.api())
    assert costs.sandbox_hourly("l4x1") == pytest.approx(L4_HOURLY)
    assert costs.sandbox_hourly("cpu-basic") == 0  # a cpu-basic Space is free
    create = tools(hub, tmp_path, costs).get("sandbox_create")
    assert "hf_jobs operation hardware" in create.description


def given(llm, call_id: str) -> str:
    """The tool result the model was given for ``call_id``."""
    for request in reversed(llm.requests):
        for message in request["messages"]:
            if message.get("role") == "tool" and message.get("tool_call_id") == call_id:
                return message["content"]
    raise AssertionError(f"the model was given no result for {call_id}")


async def test_the_figure_the_model_is_given_is_the_approval_cards_estimate(
    llm, hub, redis_url, tmp_path
):
    """Through the runtime's own tools and runner: one estimator prices both. The Hub fails
    the runtime's first reading of its prices, so only the model's call finds the Hub's
    price of l4x1: the card shows it too."""
    settings = hub_bot_settings(hub, llm, redis_url, tmp_path, sandbox="off")
    surface = RecordingSurface()
    llm.script(
        tool_calls(("hf_jobs", PRICE, "p1")),
        tool_calls(("hf_jobs", RUN, "r1"), content="Pre-flight checklist: ..."),
        text("Waiting for approval."),
    )
    hub.fail(r"/api/jobs/hardware", 403)
    async with runtime(settings) as rt:
        await eventually(lambda: hub.calls("GET", r"^/api/jobs/hardware$"))  # the failed one
        rt.runner.surfaces["test"] = lambda key, ref: surface
        await rt.runner.submit(KEY, {"kind": "message", "text": "train it", "user": "U0ALICE"})
        await rt.runner.wait_idle()
    assert len(hub.calls("GET", r"^/api/jobs/hardware$")) == 2
    (card,) = surface.approvals
    cost = card.tools[0]["approval"]["cost_usd"]
    assert cost == pytest.approx(L4_HOURLY * 100 / 60)  # the Hub's price, not the list's 0.80
    assert f"at most ${cost:.2f} " in given(llm, "p1")
    assert f"est. up to ${cost:.2f}" in approval_note(card.tools[0], [])
