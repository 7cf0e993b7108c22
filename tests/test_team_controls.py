"""Approval rules, cost estimates, auto-approve budgets and the audit trail."""

import asyncio
import json
import time
from datetime import UTC, datetime

import pytest

from agent.loop import Agent
from agent.tools.hardware import DEFAULT_JOB_TIMEOUT_S, CostEstimator, timeout_seconds
from bot.approvals.actor import Actor
from bot.approvals.audit import (
    AuditEntry,
    AuditLog,
    args_digest,
    format_json_lines,
    format_table,
    parse_since,
)
from bot.approvals.budget import Budgets, parse_cap
from bot.approvals.card import CallView, approval_note, call_verbs
from bot.approvals.controls import TeamControls
from bot.approvals.costs import call_cost
from bot.approvals.rules import ApprovalRules, Rule, RulesError
from bot.cli import main
from bot.store.sessions import SessionStore
from bot.turns.clicks import decide_click
from bot.turns.commands import budget_command
from bot.turns.runner import TurnRunner
from tests.closing import closed
from tests.standins.hub import hub  # noqa: F401
from tests.standins.llm import text, tool_calls
from tests.support import RAN, RecordingSurface, agent_config, test_tools

RULES = """
rules:
  - match: hf_jobs:run
    hardware: gpu
    approvers: [role:42, U0LEAD]
    required: 2
  - match: "hf_jobs:scheduled *"
    approvers: [S0ML]
  - match: hf_repo_git:delete_branch
    approvers: nobody
  - match: hf_repo_git:merge_pr
    approvers: any_channel_member
  - match: sandbox_create
    approvers: requester
"""
GPU_RUN = {"operation": "run", "hardware_flavor": "a10g-large", "timeout": "2h"}
CPU_RUN = {"operation": "run", "hardware_flavor": "cpu-basic"}
ALICE, LEAD, MEMBER = Actor("U0ALICE"), Actor("U0LEAD"), Actor("U0BOB")
ROLE_HOLDER = Actor("U0ROLE", groups=frozenset({"role:42"}))
ML_GROUP = Actor("U0ML", groups=frozenset({"S0ML"}))


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "approvals.yaml"
    path.write_text(RULES)
    return ApprovalRules.load(path, frozenset({"U0DEFAULT"}))


@pytest.mark.parametrize(
    ("tool", "args", "actor", "allowed", "required"),
    [
        ("hf_jobs", GPU_RUN, ROLE_HOLDER, True, 2),
        ("hf_jobs", GPU_RUN, LEAD, True, 2),
        ("hf_jobs", GPU_RUN, ALICE, False, 2),  # asked, but the rule names others
        ("hf_jobs", CPU_RUN, ALICE, False, 1),  # no GPU: the default (APPROVERS) applies
        ("hf_jobs", CPU_RUN, Actor("U0DEFAULT"), True, 1),
        ("hf_jobs", {"operation": "scheduled uv"}, ML_GROUP, True, 1),
        ("hf_jobs", {"operation": "scheduled run"}, LEAD, False, 1),
        ("hf_repo_git", {"operation": "delete_branch"}, LEAD, False, 1),
        ("hf_repo_git", {"operation": "merge_pr"}, MEMBER, True, 1),
        ("sandbox_create", {}, ALICE, True, 1),
        ("sandbox_create", {}, MEMBER, False, 1),
    ],
)
def test_the_first_matching_rule_decides_who_may_approve(
    rules, tool, args, actor, allowed, required
):
    rule = rules.rule_for(tool, args)
    assert rule.allows(actor, requester="U0ALICE") is allowed
    assert rule.required == required


def test_without_a_file_approvers_or_the_requester_decide():
    open_rules = ApprovalRules.load(None, frozenset())
    assert open_rules.rule_for("hf_jobs", GPU_RUN).allows(ALICE, "U0ALICE")
    assert not open_rules.rule_for("hf_jobs", GPU_RUN).allows(MEMBER, "U0ALICE")
    listed = ApprovalRules.load(None, frozenset({"role:7"}))
    assert listed.rule_for("hf_jobs", GPU_RUN).allows(Actor("U9", frozenset({"role:7"})), "U0ALICE")
    assert not listed.rule_for("hf_jobs", GPU_RUN).allows(ALICE, "U0ALICE")


def test_rules_describe_themselves_for_the_card(rules):
    assert rules.rule_for("hf_jobs", GPU_RUN).describe() == "2 approvals from U0LEAD, role:42"
    assert (
        rules.rule_for("hf_repo_git", {"operation": "delete_branch"}).describe()
        == "nobody may approve this"
    )
    assert Rule().describe("U0ALICE") == "<@U0ALICE>"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [{approvers: nobody}]", "rule 1: needs 'match"),
        ("rules: [{match: x, approvers: everyone}]", "approvers must be one of"),
        ("rules: [{match: x, required: 0}]", "required must be"),
        ("rules: [{match: x, hardware: tpu}]", "hardware must be gpu or cpu"),
        ("rules: [{match: x, who: [U1]}]", "unknown key(s) who"),
        ("rules: {match: x}", "expected a mapping with a 'rules' list"),
    ],
)
def test_a_bad_rules_file_is_refused_with_a_clear_message(tmp_path, text, problem):
    path = tmp_path / "approvals.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match="approvals.yaml") as caught:
        ApprovalRules.load(path, frozenset())
    assert problem in str(caught.value)


def test_job_costs_are_hourly_price_times_timeout():
    costs = CostEstimator()
    assert call_cost(costs, "hf_jobs", GPU_RUN) == pytest.approx(1.50 * 2)
    assert call_cost(costs, "hf_jobs", {**GPU_RUN, "timeout": 5400}) == pytest.approx(1.50 * 1.5)
    assert call_cost(
        costs, "hf_jobs", {"operation": "run", "hardware_flavor": "t4-small"}
    ) == pytest.approx(0.40 * 0.5)
    assert call_cost(costs, "hf_jobs", {"operation": "ps"}) == 0
    assert call_cost(costs, "hf_jobs", {**GPU_RUN, "operation": "hardware"}) == 0
    assert call_cost(costs, "hf_repo_files", {"operation": "upload"}) == 0
    assert call_cost(CostEstimator({"a10g-large": 2.0}), "hf_jobs", GPU_RUN) == pytest.approx(4.0)
    unknown = call_cost(costs, "hf_jobs", {"operation": "run", "hardware_flavor": "quantum-xl"})
    assert unknown >= max(costs.prices.values()) * 0.5  # priced high, never free
    assert timeout_seconds("90m") == 5400 and timeout_seconds("1.5h") == 5400
    assert timeout_seconds(None) == timeout_seconds("soon") == DEFAULT_JOB_TIMEOUT_S


async def test_budget_spending_stays_within_the_cap_under_races(redis):
    budgets = Budgets(redis, ttl_seconds=3600)
    key = "slack:T:C:1.1"
    assert not await budgets.try_spend(key, 1.0)  # no budget: nothing is auto-approved
    await budgets.set_cap(key, 20)
    results = await asyncio.gather(*(budgets.try_spend(key, 3.0) for _ in range(10)))
    assert sum(results) == 6  # 6 x $3 = $18; a seventh would pass $20
    budget = await budgets.get(key)
    assert budget.spent == pytest.approx(18) and budget.left == pytest.approx(2)
    assert await budgets.try_spend(key, 2.0)
    assert not await budgets.try_spend(key, 0.01)
    await budgets.extend(key, 10)
    assert (await budgets.get(key)).cap == pytest.approx(30)
    await budgets.charge(key, 4.0)
    assert (await budgets.get(key)).spent == pytest.approx(24)
    await budgets.turn_off(key)
    assert await budgets.get(key) is None


async def test_audit_entries_are_appended_and_read_back_by_thread_and_time(redis):
    log = AuditLog(redis)
    tool = {
        "tool": "hf_jobs",
        "tool_call_id": "call_1",
        "arguments": {**GPU_RUN, "script": "print(1)\n"},
    }
    edited = {"approved": True, "edited_script": "print(2)\n", "by": "U0LEAD", "at": 1000.0}
    rejected = {"approved": False, "feedback": "too big", "by": "U0BOB", "at": 2000.0}
    first = await log.append(AuditEntry.of_decision("slack:T:C:1.1", "ap1", tool, edited, 3.0))
    await log.append(AuditEntry.of_decision("discord:G:C:9", "ap2", tool, rejected))
    await log.append(
        AuditEntry.of_decision(
            "slack:T:C:1.1", "ap3", tool, {"approved": True, "auto": True, "by": "auto-approve"}
        )
    )

    everything = await log.read()
    assert [e.outcome for e in everything] == ["approved_edited", "rejected", "auto_approved"]
    assert everything[0].id == first and everything[0].platform == "slack"
    assert "-print(1)" in everything[0].script_diff and "+print(2)" in everything[0].script_diff
    assert everything[0].args_digest == args_digest(tool["arguments"])
    assert everything[1].feedback == "too big" and everything[1].decided_by == "U0BOB"
    thread = await log.read(thread="slack:T:C:1.1")
    assert [e.approval_id for e in thread] == ["ap1", "ap3"]
    assert len(await log.read(since=time.time() - 60)) == 3  # since: when it was recorded
    assert await log.read(since=time.time() + 60) == []
    table = format_table(everything)
    assert "approved_edited" in table and "hf_jobs:run" in table and "~$3.00" in table
    assert len(format_json_lines(everything).splitlines()) == 3


# ── the runner with team controls, end to end on the loopback LLM ──────────

KEY = "test:T1:C1:1700000000.000100"
LEAD_RULES = """
rules:
  - match: hf_jobs:run
    hardware: gpu
    approvers: [U0LEAD, U0SECOND]
    required: 2
  - match: hf_repo_git:delete_branch
    approvers: nobody
"""
JOB = {"operation": "run", "hardware_flavor": "a10g-small", "timeout": "1h", "script": "print(1)"}


class TeamBot:
    """A runner whose approvals follow a rules file; clicks go straight to ``decide``."""

    def __init__(self, llm, redis_client, rules_file=None):
        self.surface = RecordingSurface()
        self.controls = TeamControls.build(redis_client, rules_file=rules_file)
        self.runner = TurnRunner(
            Agent(agent_config(llm), test_tools()),
            SessionStore(redis_client),
            {"test": lambda key, ref: self.surface},
            controls=self.controls,
        )

    async def ask(self, llm, *calls, then="Done."):
        llm.script(tool_calls(*calls), text(then))
        await self.runner.submit(KEY, {"kind": "message", "text": "go", "user": "U0ALICE"})
        await self.runner.wait_idle()

    async def say(self, llm, words="hello"):
        """A plain turn by U0ALICE: she becomes the thread's requester."""
        llm.script(text("Hi."))
        await self.runner.submit(KEY, {"kind": "message", "text": words, "user": "U0ALICE"})
        await self.runner.wait_idle()


@pytest.fixture
async def team(llm, redis, tmp_path):
    rules = tmp_path / "approvals.yaml"
    rules.write_text(LEAD_RULES)
    bot = TeamBot(llm, redis, rules)
    yield bot
    await closed("the runner", bot.runner.close())


async def test_two_approvers_are_needed_and_the_same_person_counts_once(team, llm):
    await team.ask(llm, ("hf_jobs", JOB))
    card = team.surface.approvals[-1]
    note = card.tools[0]["approval"]
    assert note["required"] == 2 and note["who"] == "2 approvals from U0LEAD, U0SECOND"
    assert approval_note(card.tools[0], []).startswith("Decides: 2 approvals")
    assert (await team.runner.decide(card.approval_id, ALICE, approved=True)).result == "forbidden"

    first = await team.runner.decide(card.approval_id, LEAD, approved=True)
    assert first.result == "vote" and first.accepted and RAN == []
    assert "1 of 2 approvals (<@U0LEAD>)" in approval_note(
        card.tools[0], first.record.votes[card.tools[0]["tool_call_id"]]
    )
    again = await team.runner.decide(card.approval_id, LEAD, approved=True)
    assert again.result == "voted" and not again.accepted
    second = await team.runner.decide(card.approval_id, Actor("U0SECOND"), approved=True)
    assert second.result == "complete"
    await team.runner.wait_idle()
    assert RAN == [("hf_jobs", JOB)]
    (entry,) = await team.controls.audit.read(approval=card.approval_id)
    assert entry.outcome == "approved" and entry.approvers == ["U0LEAD", "U0SECOND"]


async def test_what_nobody_may_approve_is_refused_without_asking_anyone(team, llm):
    await team.ask(
        llm, ("hf_repo_git", {"operation": "delete_branch", "branch": "main"}), then="OK."
    )
    assert team.surface.approvals == []  # no card: there is nobody to ask
    assert any("Refused by the team's approval rules" in n for n in team.surface.notices)
    tool_result = llm.requests[-1]["messages"][-1]
    assert "let nobody approve hf_repo_git:delete_branch" in tool_result["content"]
    (entry,) = await team.controls.audit.read(thread=KEY)
    assert entry.outcome == "rejected" and entry.decided_by == "team-rules"


async def test_a_budget_auto_approves_until_it_runs_out_then_extend_approves(llm, redis):
    bot = TeamBot(llm, redis)
    try:
        await bot.say(llm)
        with pytest.raises(PermissionError):
            await bot.runner.set_budget(KEY, MEMBER, 5)  # U0BOB did not ask: may not approve
        await bot.runner.set_budget(KEY, ALICE, 5)
        await bot.ask(llm, ("hf_jobs", JOB), then="Ran on the budget.")
        assert RAN == [("hf_jobs", JOB)] and bot.surface.approvals == []
        (notice,) = [n for n in bot.surface.notices if "Auto-approved" in n]
        assert "budget: `hf_jobs`" in notice and "$1.00 of $5.00 spent" in notice
        assert (await bot.runner.status(KEY))[
            "budget"
        ] == "auto-approve budget $1.00 of $5.00 spent"

        big = {**JOB, "hardware_flavor": "a100-large", "timeout": "4h", "script": "print(2)"}
        await bot.ask(llm, ("hf_jobs", big), then="Ran after the extension.")
        card = bot.surface.approvals[-1]
        assert card.tools[0]["approval"]["over_budget"] and "extend" in call_verbs(card.tools[0])
        click = await decide_click(
            bot.runner, card.approval_id, 0, ALICE, extend=True, approved=True
        )
        assert click.decided.result == "complete"
        await bot.runner.wait_idle()
        assert RAN[-1] == ("hf_jobs", big)
        budget = await bot.controls.budgets.get(KEY)
        assert budget.cap == pytest.approx(11.0) and budget.spent == pytest.approx(11.0)

        scheduled = {**JOB, "operation": "scheduled run", "schedule": "@daily"}
        await bot.runner.set_budget(KEY, ALICE, 1000)
        await bot.ask(llm, ("hf_jobs", scheduled))
        assert (
            bot.surface.approvals[-1].tools[0]["approval"].get("auto") is None
        )  # a person decides

        outcomes = [e.outcome for e in await bot.controls.audit.read(thread=KEY)]
        assert outcomes == ["auto_approved", "approved"]
    finally:
        await bot.runner.close()


async def test_budget_commands_parse_and_explain(llm, redis):
    bot = TeamBot(llm, redis)
    try:
        await bot.say(llm)
        assert "under $20.00" in await budget_command(bot.runner, KEY, ALICE, " $20 ")
        assert "not an amount" in await budget_command(bot.runner, KEY, ALICE, "lots")
        assert "between $0" in await budget_command(bot.runner, KEY, ALICE, "99999")
        assert "Only someone who may approve" in await budget_command(bot.runner, KEY, MEMBER, "5")
        assert "is off" in await budget_command(bot.runner, KEY, ALICE, "off")
        assert await bot.controls.budgets.get(KEY) is None
        assert parse_cap("0.0") is None and parse_cap("12.5 usd") == 12.5
    finally:
        await bot.runner.close()


def test_since_takes_ages_dates_and_epochs():
    now = 1_800_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("1700000000", now) == 1_700_000_000
    assert parse_since("2026-11-25T09:00", now) == datetime(2026, 11, 25, 9, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match="--since"):
        parse_since("last tuesday", now)


async def test_the_audit_command_prints_decisions(team, llm, redis_url, monkeypatch, capsys):
    await team.ask(llm, ("hf_jobs", JOB), then="OK.")
    card = team.surface.approvals[-1]
    await team.runner.decide(card.approval_id, LEAD, approved=False, feedback="too big")
    await team.runner.wait_idle()
    monkeypatch.setenv("REDIS_URL", redis_url)
    argv = ["audit", "--approval", card.approval_id, "--since", "1h", "--json"]
    assert await asyncio.to_thread(main, argv) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    entry = json.loads(line)
    assert entry["outcome"] == "rejected" and entry["feedback"] == "too big"
    assert entry["tool"] == "hf_jobs" and entry["decided_by"] == "U0LEAD"
    assert await asyncio.to_thread(main, ["audit", "--thread", "slack:T:C:none"]) == 0
    assert "no audit entries" in capsys.readouterr().out


async def test_job_prices_come_from_the_hub_when_it_lists_them(hub, redis):  # noqa: F811
    controls = TeamControls.build(redis)
    assert await controls.costs.load(hub.api())
    assert controls.costs.hourly("l4x1") == pytest.approx(15_000 / 1e6 * 60)  # not 0.80
    assert controls.costs.hourly("a100-large") == 2.50  # not listed there: the list price
    failing = CostEstimator()
    hub.fail(r"/api/jobs/hardware", 403)
    assert not await failing.load(hub.api())  # a failing Hub: the list prices stay
    assert failing.hourly("l4x1") == 0.80 and not failing.hub


def test_a_cards_other_arguments_read_as_names_and_values():
    arguments = {"operation": "uv", "script": "print(1)", "dependencies": ["trl", "peft"]}
    tool = {"tool": "hf_jobs", "arguments": arguments | {"env": {"A": "1"}}, "tool_call_id": "c1"}
    view = CallView.of(0, tool, None, True, None)
    assert view.key_args == (("operation", "uv"),)
    assert view.other_args == 'dependencies: trl, peft · env: {"A": "1"}'  # not a JSON object
    assert view.script == "print(1)"
