"""What a click on an approval card leads to, the same on every platform.

Adapters translate clicks into :func:`decide_click` and :func:`modal_request`
and render what they return; the wording of every refusal lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from bot.approvers import Actor, may_decide
from bot.runner import STORE_DOWN, Decided, TurnRunner
from bot.store import ApprovalRecord

KEY_ARGS = ("operation", "hardware_flavor", "flavor", "repo_id", "repo", "timeout")
"""Arguments an approver reads first, in this order."""
NO_SCRIPT = "This call has no script to edit."
EXPLAIN = {
    "already": "That tool call was already decided.",
    "decided": "This approval was already decided.",
    "abandoned": "This approval is no longer pending: a newer message in the thread replaced it.",
    "missing": "This approval no longer exists (it expired or was never stored).",
}


class Refused(Exception):
    """A click that can't lead to a decision; the message says why."""


def has_script(tool: dict[str, Any]) -> bool:
    return isinstance(tool["arguments"].get("script"), str)


def call_id(record: ApprovalRecord | None, n: int | None) -> str | None:
    """The id of call ``n`` of an approval (None for all, or when there is no such call)."""
    if record is None or n is None:
        return None
    return record.tools[n]["tool_call_id"] if n < len(record.tools) else None


def explain(result: str, record: ApprovalRecord, approvers: frozenset[str]) -> str:
    """Why a click was not recorded, for the person who clicked."""
    if result != "forbidden":
        return EXPLAIN.get(result, f"Not recorded ({result}).")
    who = "the configured approvers" if approvers else f"<@{record.requester}>"
    return f"🔒 You can't approve this: only {who} can decide."


@dataclass(frozen=True)
class Click:
    """The outcome of a decision click: ``refusal`` is set when nothing was recorded."""

    record: ApprovalRecord | None
    decided: Decided | None
    refusal: str | None

    @property
    def card_changed(self) -> bool:
        return self.decided is not None and (
            self.decided.accepted or self.decided.result == "abandoned"
        )


async def decide_click(
    runner: TurnRunner, approval_id: str, n: int | None, actor: Actor, **decision: Any
) -> Click:
    """Record ``actor``'s decision on call ``n`` (None: every call left); redraw the card."""
    try:
        record = await runner.store.approval(approval_id)
        if record is None or (n is not None and call_id(record, n) is None):
            return Click(record, None, EXPLAIN["missing"])
        decided = await runner.decide(
            approval_id, actor, tool_call_id=call_id(record, n), **decision
        )
    except (RedisError, OSError):
        return Click(None, None, STORE_DOWN)
    refusal = None if decided.accepted else explain(decided.result, record, runner.approvers)
    click = Click(record, decided, refusal)
    if click.card_changed:
        await runner.refresh_card(approval_id)
    return click


@dataclass(frozen=True)
class ModalRequest:
    """What a Reject or Edit script modal is about."""

    record: ApprovalRecord
    n: int | None
    what: str
    """The call(s) decided, in words: a tool name or "every pending call"."""
    script: str | None = None
    """The script to edit (Edit script only)."""


async def modal_request(
    runner: TurnRunner, verb: str, approval_id: str, n: int | None, actor: Actor
) -> ModalRequest:
    """What the modal a Reject (``verb="reject"``) or Edit click opens is about; else :class:`Refused`."""
    try:
        record = await runner.store.approval(approval_id)
    except (RedisError, OSError) as exc:
        raise Refused(STORE_DOWN) from exc
    approvers = runner.approvers
    if record is None or (n is not None and call_id(record, n) is None):
        raise Refused(EXPLAIN["missing"])
    if not may_decide(actor, record.requester, approvers):
        raise Refused(explain("forbidden", record, approvers))
    if record.status != "open":
        raise Refused(EXPLAIN.get(record.status, EXPLAIN["decided"]))
    if n is not None and call_id(record, n) in record.decisions:
        raise Refused(EXPLAIN["already"])
    what = "every pending call" if n is None else record.tools[n]["tool"]
    if verb == "reject":
        return ModalRequest(record, n, what)
    if n is None or not has_script(record.tools[n]):
        raise Refused(NO_SCRIPT)
    return ModalRequest(record, n, what, record.tools[n]["arguments"]["script"])
