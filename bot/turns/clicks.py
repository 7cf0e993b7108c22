"""What a click leads to, the same on every platform: approval cards and 👍 / 👎.

Adapters translate clicks into :func:`decide_click`, :func:`modal_request` and
:func:`rate_click` and render what they return; the wording of every refusal lives
here. Each calls the runner, so this sits beside it, above the approvals it decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from bot.approvals.actor import Actor
from bot.approvals.card import has_script
from bot.approvals.flow import Decided
from bot.output.messages import STORE_DOWN
from bot.store.approvals import ApprovalRecord
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

NO_SCRIPT = "This call has no script to edit."
EXPLAIN = {
    "already": "That tool call was already decided.",
    "decided": "This approval was already decided.",
    "abandoned": "This approval is no longer pending: a newer message in the thread replaced it.",
    "missing": "This approval no longer exists (it expired or was never stored).",
    "expired": "This approval expired: nobody decided in time, so nothing ran.",
    "voted": "You already approved this call; it needs another approver too.",
}


class Refused(Exception):
    """A click that can't lead to a decision; the message says why."""


def call_id(record: ApprovalRecord | None, n: int | None) -> str | None:
    """The id of call ``n`` of an approval (None for all, or when there is no such call)."""
    if record is None or n is None:
        return None
    return record.tools[n]["tool_call_id"] if n < len(record.tools) else None


def explain(result: str, record: ApprovalRecord, n: int | None) -> str:
    """Why a click on call ``n`` (None: all) was not recorded, for the person who clicked."""
    if result != "forbidden":
        return EXPLAIN.get(result, f"Not recorded ({result}).")
    tools = record.tools if n is None else record.tools[n : n + 1]
    rules = {t.get("approval", {}).get("who") or f"<@{record.requester}>" for t in tools}
    return f"🔒 You can't approve this: only {' / '.join(sorted(rules))} can decide."


@dataclass(frozen=True)
class Click:
    """The outcome of a decision click: ``refusal`` is set when nothing was recorded."""

    record: ApprovalRecord | None
    decided: Decided | None
    refusal: str | None


async def decide_click(
    runner: TurnRunner,
    approval_id: str,
    n: int | None,
    actor: Actor,
    *,
    extend: bool = False,
    **decision: Any,
) -> Click:
    """Record ``actor``'s decision on call ``n`` (None: every call left); the card is
    redrawn (a decision queues its redraw, see :meth:`ApprovalFlow.decide`).

    ``extend`` (the Extend budget & approve button) first raises the thread's
    auto-approve cap just enough for the call.
    """
    try:
        record = await runner.store.approval(approval_id)
        if record is None or (n is not None and call_id(record, n) is None):
            return Click(record, None, EXPLAIN["missing"])
        cid = call_id(record, n)
        if extend and cid and runner.controls.may_decide(actor, record, [cid]):
            await runner.controls.extend_for(record, cid)
        decided = await runner.decide(approval_id, actor, tool_call_id=cid, **decision)
    except (RedisError, OSError):
        return Click(None, None, STORE_DOWN)
    refusal = None if decided.accepted else explain(decided.result, record, n)
    if decided.result == "abandoned":
        await runner.refresh_card(approval_id)
    return Click(record, decided, refusal)


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
    if record is None or (n is not None and call_id(record, n) is None):
        raise Refused(EXPLAIN["missing"])
    if not runner.controls.may_decide(
        actor, record, record.undecided() if n is None else [record.tools[n]["tool_call_id"]]
    ):
        raise Refused(explain("forbidden", record, n))
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


async def rate_click(
    runner: TurnRunner,
    key: str,
    turn_id: str,
    actor: Actor,
    rating: str,
    comment: str | None = None,
) -> str | None:
    """Record a click on 👍 / 👎 (or the text of what went wrong); None when recorded,
    else what to tell the person who clicked."""
    try:
        await runner.rate(key, turn_id, actor, rating, comment)
    except (RedisError, OSError):
        logger.exception("could not record a rating of turn %s of %s", turn_id, key)
        return STORE_DOWN
    return None
