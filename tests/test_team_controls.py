"""Approval rules, cost estimates, auto-approve budgets and the audit trail."""

import asyncio
import time

import pytest

from bot.approvers import Actor
from bot.audit import AuditEntry, AuditLog, args_digest, format_json_lines, format_table
from bot.budget import Budgets
from bot.costs import DEFAULT_JOB_TIMEOUT_S, CostEstimator, timeout_seconds
from bot.rules import ApprovalRules, Rule, RulesError

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
    assert costs.estimate("hf_jobs", GPU_RUN) == pytest.approx(1.50 * 2)
    assert costs.estimate("hf_jobs", {**GPU_RUN, "timeout": 5400}) == pytest.approx(1.50 * 1.5)
    assert costs.estimate(
        "hf_jobs", {"operation": "run", "hardware_flavor": "t4-small"}
    ) == pytest.approx(0.40 * 0.5)
    assert costs.estimate("hf_jobs", {"operation": "ps"}) == 0
    assert costs.estimate("hf_repo_files", {"operation": "upload"}) == 0
    assert CostEstimator({"a10g-large": 2.0}).estimate("hf_jobs", GPU_RUN) == pytest.approx(4.0)
    unknown = costs.estimate("hf_jobs", {"operation": "run", "hardware_flavor": "quantum-xl"})
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
