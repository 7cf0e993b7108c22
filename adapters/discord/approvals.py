"""Approval clicks and modal submissions: who may decide, the runner's decision, the card.

Approve is deferred at once (Discord's 3 s) and decided; Reject and Edit script
answer with a modal, whose submission is deferred and decided. The card is then
redrawn from the store with the bot token, so any process can update it, and a
refusal goes only to the person who clicked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from adapters.discord.errors import failure
from adapters.discord.modals import RejectModal, ScriptEdit
from adapters.discord.surface import DiscordSurfaces
from bot.approvals.actor import Actor
from bot.turns.clicks import ModalRequest, Refused, decide_click, modal_request
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)


def actor_of(user: discord.abc.User) -> Actor:
    """The person clicking, with their roles as ``role:<id>`` (ids straight from the payload)."""
    roles = getattr(user, "_roles", ())  # a Member's role ids, known even for uncached roles
    return Actor(str(user.id), frozenset(f"role:{r}" for r in roles), name=user.display_name)


class Approvals:
    """The handlers behind the approval buttons and the Reject / Edit script modals."""

    def __init__(
        self,
        runner: TurnRunner,
        surfaces: DiscordSurfaces,
        redraw_inbox: Callable[[discord.Interaction], Awaitable[None]],
    ) -> None:
        self.runner = runner
        self.surfaces = surfaces
        self.redraw_inbox = redraw_inbox
        """Redraws ``/pending``'s answer after a click on one of its buttons."""

    async def on_click(
        self, interaction: discord.Interaction, verb: str, approval_id: str, n: int | None
    ) -> None:
        if verb in ("approve", "extend"):
            await self.decide(interaction, approval_id, n, approved=True, extend=verb == "extend")
            return
        actor = actor_of(interaction.user)
        try:
            modal = self._modal(await modal_request(self.runner, verb, approval_id, n, actor))
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
        click = await decide_click(
            self.runner, approval_id, n, actor_of(interaction.user), **decision
        )
        if click.refusal:
            await self._tell(interaction, click.refusal)
        message = interaction.message
        if message is not None and message.flags.ephemeral:  # a click on /pending's answer
            await self.redraw_inbox(interaction)

    def _modal(self, request: ModalRequest) -> discord.ui.Modal:
        """The Discord modal for a Reject or Edit script click."""
        approval_id = request.record.approval_id
        if request.script is None:
            return RejectModal(self.decide, approval_id, request.n, request.what)
        assert request.n is not None
        return ScriptEdit(self.decide, approval_id, request.n, request.script).modal()

    async def _tell(self, interaction: discord.Interaction, text: str) -> None:
        """A reply only the person who clicked sees."""
        try:
            await interaction.followup.send(text, ephemeral=True)
        except discord.HTTPException as exc:
            logger.info("could not tell %s %r: %s", interaction.user.id, text, failure(exc))
