"""What an approval card shows, the same on every platform: adapters only draw it.

An :class:`ApprovalCard` is one message for an approval: a title, a note once
it is no longer pending, the audit hint once something was decided, and a
:class:`CallView` per tool call: its number, tool, key arguments, the other
arguments as ``name: value`` pairs (clipped), its script, the decision on it (:class:`Decision`)
or what the team's rules say about it, and its buttons. Text is markdown both
platforms read alike (inline code, ``<@id>`` mentions, ``_italics_``); only the
title's ``**bold**`` wants converting for Slack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.policy import SCRIPT_FILE
from bot.approvals.controls import decision_summary
from bot.output.views import clip
from bot.store.approvals import ApprovalRecord

KEY_ARGS = ("operation", "hardware_flavor", "flavor", "repo_id", "repo", "timeout", SCRIPT_FILE)
"""Arguments an approver reads first, in this order."""
ARG_CHARS = 80
OTHER_ARGS_CHARS = 400
FEEDBACK_CHARS = 300
PREVIEW_LINES = 25
NOTE_ROOM = 60
"""Characters a script preview keeps for its "more lines" note."""
VERB_LABELS = {
    "approve": "Approve",
    "reject": "Reject",
    "edit": "Edit script",
    "extend": "Extend budget & approve",
}
ALL_VERBS = ("approve", "reject")
"""The buttons that decide every call left at once."""
BUTTON_ID = r"mib:(?P<verb>approve|reject|edit|extend):(?P<id>[\w-]{1,64}):(?P<n>\d+|all)"
"""The id of an approval button (:func:`button_id`), as a pattern."""
ABANDONED = "⏭️ No longer pending: a newer message in the thread came first."
EXPIRED = "⌛ Expired: nobody decided in time, so nothing ran. Ask again if it is still needed."
STATUS_NOTES = {"abandoned": ABANDONED, "expired": EXPIRED}
"""Why a card no longer takes clicks, by the approval's status."""


def button_id(verb: str, approval_id: str, n: int | None) -> str:
    """``mib:<verb>:<approval id>:<n>``; ``n`` is the tool call's index, or None for ``all``."""
    return f"mib:{verb}:{approval_id}:{'all' if n is None else n}"


def has_script(tool: dict[str, Any]) -> bool:
    return isinstance(tool["arguments"].get("script"), str)


def call_verbs(tool: dict[str, Any]) -> list[str]:
    """The buttons an undecided call gets."""
    verbs = ["approve", "reject"]
    if has_script(tool):
        verbs.append("edit")
    if tool.get("approval", {}).get("over_budget"):
        verbs.append("extend")
    return verbs


def approval_note(tool: dict[str, Any], votes: list[str] | None = None) -> str:
    """What the team's rules say about an undecided call, in one line (markdown)."""
    note = tool.get("approval", {})
    parts = [f"Decides: {note['who']}"] if note.get("who") else []
    required = note.get("required", 1)
    if required > 1:
        so_far = ", ".join(f"<@{v}>" for v in votes or [])
        parts.append(
            f"{len(votes or [])} of {required} approvals" + (f" ({so_far})" if so_far else "")
        )
    if note.get("cost_usd") and tool.get("tool") == "sandbox_create":
        parts.append(f"${note['cost_usd']:.2f} per hour while it runs")
    elif note.get("cost_usd"):
        parts.append(f"est. up to ${note['cost_usd']:.2f}")
    if note.get("over_budget"):
        parts.append("over this thread's auto-approve budget")
    return " · ".join(parts)


def audit_hint(approval_id: str) -> str:
    return f"Audit: `ml-intern-bot audit --approval {approval_id}`"


def shown_value(value: Any) -> str:
    """An argument's value as an approver reads it: text as it is, a list of texts
    comma-separated (``trl, peft``), anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False)


def _as_is(text: str) -> str:
    return text


def _in_code(text: str) -> str:
    """``text`` that can't close the inline code it is shown in."""
    return text.replace("`", "'")


def script_preview(
    script: str, budget: int, escape: Callable[[str], str] = _as_is, lang: str = ""
) -> str:
    """The first lines of ``script`` as a code block of at most ``budget`` characters.

    ``escape`` is the platform's escaping of a code line (counted in the budget);
    a note says how many lines are left out.
    """
    lines = script.splitlines()
    head, tail = f"```{lang}\n", "\n```"
    used = len(head) + len(tail) + NOTE_ROOM
    shown: list[str] = []
    for line in lines[:PREVIEW_LINES]:
        line = escape(line.replace("```", "'''"))
        if used + len(line) + 1 > budget:
            break
        shown.append(line)
        used += len(line) + 1
    if not shown:
        return f"_(a script of {len(lines)} lines: Edit script shows it)_"
    more = len(lines) - len(shown)
    note = f"\n_(+{more} more lines: Edit script shows all of it)_" if more else ""
    return head + "\n".join(shown) + tail + note


@dataclass(frozen=True)
class Decision:
    """Who decided a call and how (``summary``), when, and the feedback they gave (clipped)."""

    summary: str
    approved: bool
    at: float | None
    feedback: str | None

    @classmethod
    def of(cls, decision: dict[str, Any]) -> Decision:
        feedback = decision.get("feedback")
        return cls(
            decision_summary(decision),
            bool(decision.get("approved")),
            decision.get("at"),
            clip(feedback, FEEDBACK_CHARS) if feedback else None,
        )

    def line(self, when: Callable[[float], str], escape: Callable[[str], str] = _as_is) -> str:
        """The decision in a line, ``when(at)`` as the platform shows a time, then the feedback quoted."""
        text = self.summary if self.at is None else f"{self.summary} · {when(self.at)}"
        if self.feedback:
            text += "".join(f"\n> {line}" for line in escape(self.feedback).splitlines())
        return text


@dataclass(frozen=True)
class CallView:
    """One tool call of a card."""

    n: int
    """Its index in the approval (buttons carry it); people read ``number``."""
    tool: str
    key_args: tuple[tuple[str, str], ...]
    """The arguments of :data:`KEY_ARGS` it has, as (name, clipped value)."""
    other_args: str
    """The rest of its arguments as ``name: value`` pairs, clipped; "" when there are none."""
    script: str | None
    decision: Decision | None
    waiting: bool
    """Undecided while the card is open: its buttons work."""
    note: str
    """What the team's rules say about it while it waits; "" otherwise."""
    verbs: tuple[str, ...]
    """Its buttons (drawn disabled, or not at all, once it no longer waits)."""

    @property
    def number(self) -> int:
        return self.n + 1

    @property
    def state(self) -> str:
        """``approved``, ``rejected``, ``open`` (it waits) or ``closed`` (the card is)."""
        if self.decision:
            return "approved" if self.decision.approved else "rejected"
        return "open" if self.waiting else "closed"

    @classmethod
    def of(
        cls,
        n: int,
        tool: dict[str, Any],
        decision: dict[str, Any] | None,
        card_open: bool,
        votes: list[str] | None,
    ) -> CallView:
        """Call ``n`` of a card, decided by ``decision`` if any; ``votes``: its approvers so far."""
        args = dict(tool["arguments"])
        script = args.pop("script", None)
        key_args = tuple(
            (key, _in_code(clip(str(args.pop(key)), ARG_CHARS))) for key in KEY_ARGS if key in args
        )
        other = " · ".join(f"{name}: {shown_value(value)}" for name, value in args.items())
        waiting = card_open and not decision
        return cls(
            n,
            tool["tool"],
            key_args,
            _in_code(clip(other, OTHER_ARGS_CHARS)),
            script if isinstance(script, str) else None,
            Decision.of(decision) if decision else None,
            waiting,
            approval_note(tool, votes) if waiting else "",
            tuple(call_verbs(tool)),
        )


@dataclass(frozen=True)
class ApprovalCard:
    """The content of an approval's message; build it with :meth:`build` or :meth:`of`."""

    approval_id: str
    status: str
    calls: tuple[CallView, ...]
    decided: bool
    """Some call has been decided."""

    @classmethod
    def build(
        cls,
        approval_id: str,
        tools: list[dict[str, Any]],
        decisions: dict[str, dict[str, Any]] | None = None,
        status: str = "open",
        votes: dict[str, list[str]] | None = None,
    ) -> ApprovalCard:
        decisions = decisions or {}
        votes = votes or {}
        calls = tuple(
            CallView.of(
                n,
                tool,
                decisions.get(tool["tool_call_id"]),
                status == "open",
                votes.get(tool["tool_call_id"]),
            )
            for n, tool in enumerate(tools)
        )
        return cls(approval_id, status, calls, bool(decisions))

    @classmethod
    def of(cls, record: ApprovalRecord) -> ApprovalCard:
        """The card of a stored approval: its decisions, votes and status."""
        return cls.build(
            record.approval_id, record.tools, record.decisions, record.status, record.votes
        )

    @property
    def title(self) -> str:
        count = len(self.calls)
        calls = f"{count} tool call{'s' if count > 1 else ''}"
        if self.status == "expired":
            return f"⌛ **Approval expired** for {calls}"
        if self.status in ("open", "abandoned"):
            return f"⏸️ **Approval needed** for {calls}"
        return f"☑️ **Decided**: {calls}"

    @property
    def status_note(self) -> str | None:
        """Why the card no longer takes clicks, when it is not for a decision."""
        return STATUS_NOTES.get(self.status)

    @property
    def audit(self) -> str | None:
        """Where to read who decided what, once somebody did."""
        return audit_hint(self.approval_id) if self.decided else None

    @property
    def waiting(self) -> list[CallView]:
        return [call for call in self.calls if call.waiting]

    @property
    def tool_names(self) -> str:
        """The names of its tools, for a notification or an overflow line."""
        return ", ".join(call.tool for call in self.calls)
