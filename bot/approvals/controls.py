"""Team controls on approvals: who may decide each call, auto-approval within a thread's
budget, and an audit record of every decision.

The runner asks :class:`TeamControls` when a turn pauses for approval (which calls
run at once on the budget, what the card shows) and when someone clicks (may they,
and what goes in the audit trail).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi
from redis.asyncio import Redis

from bot.approvals.actor import Actor
from bot.approvals.audit import AuditEntry, AuditLog
from bot.approvals.budget import Budget, Budgets
from bot.approvals.costs import CostEstimator, hub_prices
from bot.approvals.rules import ApprovalRules, Rule
from bot.store.sessions import ApprovalRecord

AUTO_APPROVER = "auto-approve"
TEAM_RULES = "team-rules"
AUTO_APPROVAL = {"approved": True, "auto": True, "by": AUTO_APPROVER, "by_name": AUTO_APPROVER}
NEVER_AUTO = ("scheduled run", "scheduled uv")
"""Operations that always wait for a person, whatever the budget."""


def refusal(tool: dict[str, Any]) -> dict[str, Any]:
    """The decision on a call the rules let nobody approve (the agent reads the reason)."""
    what = tool["tool"] + (f":{op}" if (op := tool["arguments"].get("operation")) else "")
    return {
        "approved": False,
        "by": TEAM_RULES,
        "by_name": TEAM_RULES,
        "feedback": f"The team's approval rules let nobody approve {what}.",
        "at": time.time(),
    }


def script_digest(script: str) -> str:
    """A short fingerprint of a script, so people can tell which version ran."""
    return "sha256 " + hashlib.sha256(script.encode()).hexdigest()[:12]


def decision_summary(decision: dict[str, Any]) -> str:
    """What was decided and by whom, e.g. "✅ Approved by <@U1>" (both platforms' mention syntax)."""
    if decision.get("auto"):
        return "🤖 Auto-approved within this thread's budget"
    if decision.get("by") == TEAM_RULES:
        return "🔒 Refused by the team's approval rules"
    if not decision.get("approved"):
        verb = "🚫 Rejected"
    elif script := decision.get("edited_script"):
        verb = f"✏️ Approved with an edited script ({script_digest(script)})"
    else:
        verb = "✅ Approved"
    return f"{verb} by <@{decision['by']}>"


@dataclass
class TeamControls:
    rules: ApprovalRules
    costs: CostEstimator
    budgets: Budgets
    audit: AuditLog

    @classmethod
    def build(
        cls,
        redis: Redis,
        *,
        approvers: frozenset[str] = frozenset(),
        rules_file: Path | None = None,
        ttl_seconds: int = 30 * 86400,
        prices: dict[str, float] | None = None,
    ) -> TeamControls:
        return cls(
            ApprovalRules.load(rules_file, approvers),
            CostEstimator(prices),
            Budgets(redis, ttl_seconds=ttl_seconds),
            AuditLog(redis),
        )

    async def load_hub_prices(self, api: HfApi) -> None:
        """Price jobs with the Hub's hardware list where it answers (list prices otherwise)."""
        self.costs.prices.update(await asyncio.to_thread(hub_prices, api))

    def rule(self, tool: dict[str, Any]) -> Rule:
        return self.rules.rule_for(tool["tool"], tool["arguments"])

    def may_decide(self, actor: Actor, record: ApprovalRecord, call_ids: list[str]) -> bool:
        """``actor`` may decide every one of ``call_ids`` under its rule (all calls: when none)."""
        chosen = [t for t in record.tools if t["tool_call_id"] in call_ids] or record.tools
        return all(self.rule(t).allows(actor, record.requester) for t in chosen)

    # ── a turn pauses ────────────────────────────────────────────────────

    async def prepare(
        self, key: str, tools: list[dict[str, Any]], requester: str
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """The calls annotated for the card, and the decisions taken without a person.

        Each call gets an ``approval`` entry: who decides, how many approvals it
        needs, its estimated cost, and whether it is over the thread's budget.
        Calls nobody may approve are refused; calls the budget covers are approved.
        """
        budget = await self.budgets.get(key)
        shown, decided = [], {}
        for tool in tools:
            rule = self.rule(tool)
            cost = self.costs.estimate(tool["tool"], tool["arguments"])
            note: dict[str, Any] = {
                "who": rule.describe(requester),
                "required": rule.required,
                "cost_usd": cost,
            }
            call_id = tool["tool_call_id"]
            if rule.refuses_everyone:
                decided[call_id] = refusal(tool)
            elif budget is not None and self._budget_may_cover(tool, rule):
                if await self.budgets.try_spend(key, cost):
                    decided[call_id] = {**AUTO_APPROVAL, "at": time.time()}
                else:
                    note["over_budget"] = True
            shown.append({**tool, "approval": note})
        return shown, decided

    @staticmethod
    def _budget_may_cover(tool: dict[str, Any], rule: Rule) -> bool:
        """Budgets stand in for one person's click: not for two people, nor schedules."""
        return rule.required == 1 and tool["arguments"].get("operation") not in NEVER_AUTO

    @staticmethod
    def required(tools: list[dict[str, Any]]) -> dict[str, int]:
        """Approvals needed per call, where more than one."""
        return {
            t["tool_call_id"]: t["approval"]["required"]
            for t in tools
            if t.get("approval", {}).get("required", 1) > 1
        }

    # ── a decision is recorded ───────────────────────────────────────────

    async def record(self, record: ApprovalRecord, decision: dict[str, Any]) -> list[str]:
        """Audit the calls ``decision`` decided (and count people's approvals on the budget)."""
        ids = []
        for tool in record.tools:
            if record.decisions.get(tool["tool_call_id"]) != decision:
                continue
            cost = tool.get("approval", {}).get("cost_usd", 0.0)
            voters = record.votes.get(tool["tool_call_id"])
            entry = AuditEntry.of_decision(
                record.session_key, record.approval_id, tool, decision, cost, voters
            )
            ids.append(await self.audit.append(entry))
            if decision.get("approved") and not decision.get("auto") and cost:
                await self.budgets.charge(record.session_key, cost)
        return ids

    async def extend_for(self, record: ApprovalRecord, call_id: str) -> Budget | None:
        """Raise the thread's cap just enough for this call (its approval then spends it)."""
        tool = next(t for t in record.tools if t["tool_call_id"] == call_id)
        cost = tool.get("approval", {}).get("cost_usd", 0.0)
        budget = await self.budgets.get(record.session_key)
        if budget is None:
            return None
        if cost > budget.left:
            budget = await self.budgets.extend(record.session_key, cost - budget.left)
        return budget
