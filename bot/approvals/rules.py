"""Approval rules: who may decide which tool call, and how many people must approve it.

Rules come from a YAML file (``APPROVAL_RULES``); the first rule whose pattern
matches ``<tool>:<operation>`` applies. Calls no rule matches fall back to
``APPROVERS`` (or the person who asked). Which calls need approval at all is
still the agent's policy; these rules only say who decides.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from agent.policy import CPU_FLAVORS, job_flavor
from bot.approvals.actor import Actor

Keyword = Literal["requester", "any_channel_member", "nobody"]
KEYWORDS: frozenset[str] = frozenset({"requester", "any_channel_member", "nobody"})
Hardware = Literal["gpu", "cpu"]


class RulesError(ValueError):
    """The rules file is not valid; the message names the rule and the problem."""


def call_name(tool: str, args: dict[str, Any]) -> str:
    """``tool:operation``, or just ``tool`` for a tool without operations."""
    operation = args.get("operation")
    return f"{tool}:{operation}" if isinstance(operation, str) and operation else tool


@dataclass(frozen=True)
class Rule:
    """``approvers`` is a keyword or a set of user ids, Slack user groups and ``role:<id>``."""

    match: str = "*"
    approvers: Keyword | frozenset[str] = "requester"
    required: int = 1
    hardware: Hardware | None = None

    def matches(self, tool: str, args: dict[str, Any]) -> bool:
        name = call_name(tool, args)
        pattern = self.match if ":" in self.match or self.match == "*" else self.match + ":*"
        if not (fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(tool, self.match)):
            return False
        if self.hardware is None:
            return True
        on_gpu = job_flavor(args) not in CPU_FLAVORS
        return on_gpu == (self.hardware == "gpu")

    def allows(self, actor: Actor, requester: str) -> bool:
        if self.approvers == "nobody":
            return False
        if self.approvers == "any_channel_member":
            return True
        if self.approvers == "requester":
            return actor.user_id == requester
        return actor.user_id in self.approvers or bool(actor.groups & self.approvers)

    @property
    def refuses_everyone(self) -> bool:
        return self.approvers == "nobody"

    def describe(self, requester: str = "") -> str:
        """Who decides, as the approval card says it."""
        if self.approvers == "nobody":
            return "nobody may approve this"
        if self.approvers == "any_channel_member":
            who = "anyone in the channel"
        elif self.approvers == "requester":
            who = f"<@{requester}>" if requester else "the person who asked"
        else:
            who = ", ".join(sorted(self.approvers))
        return f"{self.required} approvals from {who}" if self.required > 1 else who


class ApprovalRules:
    def __init__(self, rules: Iterable[Rule] = (), default: Rule | None = None) -> None:
        self.rules = list(rules)
        self.default = default or Rule()

    @classmethod
    def with_default(cls, approvers: frozenset[str], rules: Iterable[Rule] = ()) -> ApprovalRules:
        """``APPROVERS`` as the default rule: those ids, or the requester when empty."""
        return cls(rules, Rule(approvers=approvers or "requester"))

    @classmethod
    def load(cls, path: Path | None, approvers: frozenset[str]) -> ApprovalRules:
        """The rules of ``path`` (none when it is None) with ``APPROVERS`` as the default."""
        if path is None:
            return cls.with_default(approvers)
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RulesError(f"{path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
            raise RulesError(f"{path}: expected a mapping with a 'rules' list")
        rules = [_parse_rule(raw, f"{path}: rule {n}") for n, raw in enumerate(data["rules"], 1)]
        return cls.with_default(approvers, rules)

    def named(self) -> frozenset[str]:
        """Every id, group and role any rule names (adapters resolve group membership for these)."""
        sets = [
            r.approvers for r in (*self.rules, self.default) if isinstance(r.approvers, frozenset)
        ]
        return frozenset().union(*sets)

    def rule_for(self, tool: str, args: dict[str, Any]) -> Rule:
        return next((r for r in self.rules if r.matches(tool, args)), self.default)


def _parse_rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("match"), str):
        raise RulesError(f"{where}: needs 'match: <tool>:<operation>'")
    unknown = set(raw) - {"match", "approvers", "required", "hardware"}
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    approvers = raw.get("approvers", "requester")
    if isinstance(approvers, str):
        if approvers not in KEYWORDS:
            raise RulesError(
                f"{where}: approvers must be one of {sorted(KEYWORDS)} or a list of ids"
            )
        who: Keyword | frozenset[str] = approvers  # type: ignore[assignment]
    elif (
        isinstance(approvers, list)
        and approvers
        and all(isinstance(a, str | int) for a in approvers)
    ):
        who = frozenset(str(a).strip() for a in approvers)
    else:
        raise RulesError(f"{where}: approvers must be a keyword or a non-empty list of ids")
    required = raw.get("required", 1)
    if not isinstance(required, int) or isinstance(required, bool) or required < 1:
        raise RulesError(f"{where}: required must be a whole number of at least 1")
    hardware = raw.get("hardware")
    if hardware not in (None, "gpu", "cpu"):
        raise RulesError(f"{where}: hardware must be gpu or cpu")
    return Rule(raw["match"], who, required, hardware)
