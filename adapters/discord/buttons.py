"""Persistent buttons: their state lives in the ``custom_id``, so they work after a restart.

``mib:stop`` stops the turn of the channel it is clicked in;
``mib:<verb>:<approval id>:<n>`` decides call ``n`` (or ``all``) of an approval;
``mib:joblogs:<job id>`` and ``mib:jobcancel:<job id>`` are a job card's buttons;
``mib:thumbs:<up|down>:<turn id>`` rates a turn's final answer. All are
:class:`discord.ui.DynamicItem` templates registered in ``setup_hook``; the click
goes to the handlers on the client (``conversations``, ``approvals``, ``inbox``,
``feedback``).
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.approvals.card import BUTTON_ID, button_id
from bot.jobs.room import JOB_BUTTON, JOB_VERBS, job_button_id
from bot.output.views import STOP_ID, THUMBS

STYLES = {
    "approve": discord.ButtonStyle.success,
    "reject": discord.ButtonStyle.danger,
    "edit": discord.ButtonStyle.secondary,
    "extend": discord.ButtonStyle.primary,
}


class StopButton(discord.ui.DynamicItem[discord.ui.Button], template=re.escape(STOP_ID)):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Stop", emoji="⏹️", style=discord.ButtonStyle.secondary, custom_id=STOP_ID
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> StopButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        client: Any = interaction.client
        await client.conversations.on_stop(interaction)


class ApprovalButton(discord.ui.DynamicItem[discord.ui.Button], template=BUTTON_ID):
    """Approve, Reject or Edit script for call ``n`` of an approval (``n`` None: every call)."""

    def __init__(
        self,
        verb: str,
        approval_id: str,
        n: int | None,
        *,
        label: str,
        disabled: bool = False,
        row: int | None = None,
    ) -> None:
        self.verb = verb
        self.approval_id = approval_id
        self.n = n
        button = discord.ui.Button(
            label=label,
            style=STYLES[verb],
            custom_id=button_id(verb, approval_id, n),
            disabled=disabled,
            row=row,
        )
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ApprovalButton:
        n = None if match["n"] == "all" else int(match["n"])
        return cls(match["verb"], match["id"], n, label=item.label or match["verb"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client: Any = interaction.client
        await client.approvals.on_click(interaction, self.verb, self.approval_id, self.n)


THUMB_ID = "mib:thumbs:{rating}:{turn}"
THUMB_TEMPLATE = r"mib:thumbs:(?P<rating>up|down):(?P<turn>[^:]+)"


class ThumbButton(discord.ui.DynamicItem[discord.ui.Button], template=THUMB_TEMPLATE):
    """👍 or 👎 under the final answer of turn ``turn_id``."""

    def __init__(self, rating: str, turn_id: str) -> None:
        self.rating = rating
        self.turn_id = turn_id
        button = discord.ui.Button(
            emoji=THUMBS[rating],
            style=discord.ButtonStyle.secondary,
            custom_id=THUMB_ID.format(rating=rating, turn=turn_id),
        )
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ThumbButton:
        return cls(match["rating"], match["turn"])

    async def callback(self, interaction: discord.Interaction) -> None:
        client: Any = interaction.client
        await client.feedback.on_click(interaction, self.rating, self.turn_id)


JOB_LABELS = {
    "logs": ("Logs", "📜", discord.ButtonStyle.secondary),
    "cancel": ("Cancel", "🛑", discord.ButtonStyle.danger),
}


class JobButton(discord.ui.DynamicItem[discord.ui.Button], template=JOB_BUTTON):
    """Logs or Cancel of a job (on its card, or in ``/jobs``)."""

    def __init__(
        self, verb: str, job_id: str, *, label: str | None = None, row: int | None = None
    ) -> None:
        self.verb = verb
        self.job_id = job_id
        text, emoji, style = JOB_LABELS[verb]
        super().__init__(
            discord.ui.Button(
                label=label or text,
                emoji=emoji,
                style=style,
                custom_id=job_button_id(verb, job_id),
                row=row,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> JobButton:
        return cls(JOB_VERBS[match["verb"]], match["id"], label=item.label)

    async def callback(self, interaction: discord.Interaction) -> None:
        client: Any = interaction.client
        await client.inbox.on_job_click(interaction, self.verb, self.job_id)
