"""The approval flow: a turn pauses for approval, clicks decide it, the last one resumes it.

When the agent asks to run calls that need approval, :meth:`ApprovalFlow.pause`
stores the approval, takes the decisions the team's rules and the thread's budget
allow at once, and shows a card for the rest. :meth:`ApprovalFlow.decide` records
a click (checked against the stored approval, never the click's own ids), queues the
card's redraw, audits it, and queues the turn's ``resume`` input when it was the last
decision. Cards are redrawn from the store by the thread's writer
(:mod:`bot.output.writer`), so the newest state wins on every platform, the card shows
a decision before the line of the call it let run, and the call never waits for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent import events as ev
from bot.approvals.actor import Actor
from bot.approvals.budget import Budget
from bot.approvals.controls import TeamControls, decision_summary
from bot.output.messages import BUDGET_FORBIDDEN, auto_decided
from bot.output.redact import clean
from bot.output.render import StreamRenderer
from bot.output.writer import Writers
from bot.platform import ApprovalCards, call_surface
from bot.session_key import platform_of
from bot.store.approvals import ApprovalRecord
from bot.store.sessions import SessionStore
from bot.telemetry.metrics import APPROVALS

if TYPE_CHECKING:
    from bot.platform import SurfaceFactory

logger = logging.getLogger(__name__)

Submit = Callable[[str, dict[str, Any]], Awaitable[bool]]
"""Queues an input for a session (the runner's ``submit``)."""


@dataclass(frozen=True)
class Decided:
    """The outcome of a click: ``result`` is the store's, or ``forbidden``."""

    result: str
    record: ApprovalRecord | None

    @property
    def accepted(self) -> bool:
        return self.result in ("recorded", "complete", "vote")


class ApprovalFlow:
    """Pausing turns for approval and deciding them, for one runner."""

    def __init__(
        self,
        store: SessionStore,
        controls: TeamControls,
        surfaces: dict[str, SurfaceFactory],
        submit: Submit,
    ) -> None:
        self.store = store
        self.controls = controls
        self.surfaces = surfaces  # the runner's dict: front ends add their factories later
        self.submit = submit
        self.writers = Writers()
        """Each thread's writer in this process: card redraws here, tool lines in turns."""

    async def pause(
        self, key: str, event: ev.ApprovalRequired, requester: str, renderer: StreamRenderer
    ) -> None:
        """Store the approval, take the decisions rules and budget allow, show a card for the rest."""
        tools, decided = await self.controls.prepare(key, event.tools, requester)
        event = dataclasses.replace(event, tools=tools)
        await self.store.open_approval(
            key, event.approval_id, tools, requester, TeamControls.required(tools)
        )
        for call_id, decision in decided.items():
            result = await self.store.decide(event.approval_id, call_id, decision)
            await self._recorded(event.approval_id, decision, result)
        if len(decided) == len(tools):
            lines = [
                auto_decided(decision_summary(decided[t["tool_call_id"]]), t["tool"]) for t in tools
            ]
            if budget := await self.controls.budgets.get(key):
                lines.append(f"({budget.describe()})")
            await renderer.notice("\n".join(lines))
            return
        posted = await renderer.show_approval(event)
        await self.store.set_approval_ref(event.approval_id, posted)
        if decided:
            await self.refresh_card(event.approval_id)

    async def abandon(self, approval_id: str) -> None:
        """A newer input replaces a pending approval: close it and say so on its card."""
        if await self.store.close_approval(approval_id, "abandoned"):
            await self.refresh_card(approval_id)

    async def decide(
        self,
        approval_id: str,
        actor: Actor,
        *,
        approved: bool,
        tool_call_id: str | None = None,
        feedback: str | None = None,
        edited_script: str | None = None,
    ) -> Decided:
        """Record a click. The last decision of an approval resumes its turn.

        The actor is checked against the stored approval's requester and the
        team's approvers, never against ids carried by the click.
        """
        verdict = "approved" if approved else "rejected"
        record = await self.store.approval(approval_id)
        if record is None:
            return Decided("missing", None)
        if not self.controls.may_decide(
            actor, record, [tool_call_id] if tool_call_id else record.undecided()
        ):
            APPROVALS.labels(verdict, "forbidden").inc()
            return Decided("forbidden", record)
        decision = {
            "approved": approved,
            "feedback": feedback,
            "edited_script": edited_script,
            "by": actor.user_id,
            "by_name": actor.name or actor.user_id,
            "at": time.time(),
        }
        result = await self.store.decide(approval_id, tool_call_id, decision)
        APPROVALS.labels(verdict, result).inc()
        if result in ("recorded", "complete", "vote"):
            self._redraw(record.session_key, approval_id)  # before the resume's lines
        return Decided(result, await self._recorded(approval_id, decision, result))

    async def _recorded(
        self, approval_id: str, decision: dict[str, Any], result: str
    ) -> ApprovalRecord | None:
        """After a decision: audit it, and resume the turn when it was the last one."""
        record = await self.store.approval(approval_id)
        if record is None or result not in ("recorded", "complete"):
            return record
        await self.controls.record(record, decision)
        if result == "complete":
            decisions = [{"tool_call_id": i, **d} for i, d in record.decisions.items()]
            await self.submit(
                record.session_key,
                {
                    "kind": "resume",
                    "approval_id": approval_id,
                    "decisions": decisions,
                    "ref": {"user": record.requester},  # whom a native stream answers
                },
            )
        return record

    async def set_budget(self, key: str, actor: Actor, cap: float | None) -> Budget | None:
        """Auto-approve ``key``'s calls within ``cap`` USD (None: off).

        Only someone who may approve there may set it (a budget stands in for their
        clicks); :class:`PermissionError` otherwise.
        """
        requester = (await self.store.meta(key)).get("requester", actor.user_id)
        if not self.controls.rules.default.allows(actor, requester):
            raise PermissionError(BUDGET_FORBIDDEN)
        if cap is None:
            await self.controls.budgets.turn_off(key)
            return None
        return await self.controls.budgets.set_cap(key, cap)

    async def refresh_card(self, approval_id: str) -> None:
        """Redraw an approval's card from the store, where the platform can (newest state
        wins), and wait until it was drawn."""
        try:
            record = await self.store.approval(approval_id)
        except Exception:
            logger.exception("could not redraw the card of approval %s", approval_id)
            return
        if record is not None and record.platform_ref:
            await asyncio.wait([self._redraw(record.session_key, approval_id)])

    def _redraw(self, key: str, approval_id: str) -> asyncio.Future[None]:
        """Queue the card's redraw with its thread's writer (in place of one still queued)."""
        return self.writers.of(key).update(f"card:{approval_id}", lambda: self._draw(approval_id))

    async def _draw(self, approval_id: str) -> None:
        try:
            record = await self.store.approval(approval_id)
            if record is None or not record.platform_ref:
                return
            factory = self.surfaces.get(platform_of(record.session_key))
            surface = factory(record.session_key, {}) if factory else None
            if isinstance(surface, ApprovalCards):
                shown = dataclasses.replace(
                    record, tools=json.loads(clean(json.dumps(record.tools)))
                )
                await call_surface(surface, surface.update_approval, shown)
        except Exception:  # the decision stands; a stale card is only cosmetic
            logger.exception("could not redraw the card of approval %s", approval_id)
