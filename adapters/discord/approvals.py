"""Approval clicks and modal submissions: who may decide, the runner's decision, the card.

Approve is deferred at once (Discord's 3 s) and decided; Reject and Edit script
answer with a modal, whose submission is deferred and decided. The card is then
redrawn from the store with the bot token, so any process can update it, and a
refusal goes only to the person who clicked.
"""

from __future__ import annotations

import logging
from typing import Any

import discord

from adapters.discord import cards
from adapters.discord.modals import RejectModal, ScriptEdit
from adapters.discord.surface import DiscordSurface, DiscordSurfaces
from bot.approvers import Actor, may_decide
from bot.render import call_surface
from bot.runner import TurnRunner
from bot.store import ApprovalRecord

logger = logging.getLogger(__name__)

NO_SCRIPT = "This call has no script to edit."
EXPLAIN = {
    "already": "That tool call was already decided.",
    "decided": "This approval was already decided.",
    "abandoned": "This approval is no longer pending: a newer message in the thread replaced it.",
    "missing": "This approval no longer exists (it expired or was never stored).",
}


class Refused(Exception):
    """A click that can't lead to a decision; the message says why."""


def actor_of(user: discord.abc.User) -> Actor:
    """The person clicking, with their roles as ``role:<id>`` (ids straight from the payload)."""
    roles = getattr(user, "_roles", ())  # a Member's role ids, known even for uncached roles
    return Actor(str(user.id), frozenset(f"role:{r}" for r in roles), name=user.display_name)


def call_id(record: ApprovalRecord | None, n: int | None) -> str | None:
    if record is None or n is None:
        return None
    return record.tools[n]["tool_call_id"] if n < len(record.tools) else None


class Approvals:
    """The handlers behind the approval buttons and the Reject / Edit script modals."""

    def __init__(self, runner: TurnRunner, surfaces: DiscordSurfaces) -> None:
        self.runner = runner
        self.store = runner.store
        self.surfaces = surfaces

    async def on_click(
        self, interaction: discord.Interaction, verb: str, approval_id: str, n: int | None
    ) -> None:
        if verb == "approve":
            await self.decide(interaction, approval_id, n, approved=True)
            return
        actor = actor_of(interaction.user)
        try:
            modal = self._modal(verb, await self.store.approval(approval_id), n, actor)
        except Refused as refused:
            await interaction.response.send_message(str(refused), ephemeral=True)
            return
        await interaction.response.send_modal(modal)

    async def decide(
        self, interaction: discord.Interaction, approval_id: str, n: int | None, **decision: Any
    ) -> None:
        """Record a decision on call ``n`` (None: every call left), redraw the card, explain a refusal."""
        if not interaction.response.is_done():
            await interaction.response.defer()
        actor = actor_of(interaction.user)
        record = await self.store.approval(approval_id)
        if record is None or (n is not None and call_id(record, n) is None):
            await self._tell(interaction, EXPLAIN["missing"])
            return
        decided = await self.runner.decide(
            approval_id, actor, tool_call_id=call_id(record, n), **decision
        )
        if decided.accepted or decided.result == "abandoned":
            await self.refresh_card(record)
        if not decided.accepted:
            await self._tell(interaction, self._explain(decided.result, record))

    def _modal(
        self, verb: str, record: ApprovalRecord | None, n: int | None, actor: Actor
    ) -> discord.ui.Modal:
        """The modal a Reject or Edit script click opens; :class:`Refused` says why not."""
        if record is None or (n is not None and call_id(record, n) is None):
            raise Refused(EXPLAIN["missing"])
        if not may_decide(actor, record.requester, self.runner.approvers):
            raise Refused(self._explain("forbidden", record))
        if record.status != "open":
            raise Refused(EXPLAIN.get(record.status, EXPLAIN["decided"]))
        if n is not None and call_id(record, n) in record.decisions:
            raise Refused(EXPLAIN["already"])
        if verb == "reject":
            what = "every call" if n is None else record.tools[n]["tool"]
            return RejectModal(self.decide, record.approval_id, n, what)
        script = None if n is None else record.tools[n]["arguments"].get("script")
        if n is None or not isinstance(script, str):
            raise Refused(NO_SCRIPT)
        return ScriptEdit(self.decide, record.approval_id, n, script).modal()

    def _explain(self, result: str, record: ApprovalRecord) -> str:
        if result != "forbidden":
            return EXPLAIN.get(result, f"Not recorded ({result}).")
        who = "the configured approvers" if self.runner.approvers else f"<@{record.requester}>"
        return f"🔒 You can't decide this: only {who} can."

    async def refresh_card(self, record: ApprovalRecord) -> None:
        """Show the stored state on the card: who decided what, decided buttons disabled."""
        if not record.platform_ref.get("message_id"):
            return
        surface = self.surfaces(record.session_key)
        await call_surface(surface, self._write_card, surface, record.approval_id)

    async def _write_card(self, surface: DiscordSurface, approval_id: str) -> None:
        record = await self.store.approval(approval_id)  # read late: the newest state wins
        if record is not None:
            card = cards.approval_card(approval_id, record.tools, record.decisions, record.status)
            await surface.update(record.platform_ref["message_id"], **card)

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        """A reply only the person who clicked sees."""
        try:
            await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException as exc:
            logger.info("could not tell %s %r: %s", interaction.user.id, text, exc)
