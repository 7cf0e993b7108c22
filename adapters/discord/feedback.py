"""👍 / 👎 clicks under a final answer, and the "what went wrong" modal a 👎 opens.

Anyone in the thread may rate; the rating is recorded at once (a 👎 before its
modal opens), the modal's text goes with it, and only the person who clicked
is answered.
"""

from __future__ import annotations

import discord

from adapters.discord.approvals import actor_of
from adapters.discord.keys import encode_key, place_of
from bot.output.messages import (
    FEEDBACK_THANKS,
    WHAT_WENT_WRONG,
    WHAT_WENT_WRONG_HINT,
    WHAT_WENT_WRONG_LABEL,
)
from bot.turns.clicks import rate_click
from bot.turns.feedback import COMMENT_CHARS
from bot.turns.runner import TurnRunner

MODAL_TIMEOUT = 3600.0
"""An unsubmitted modal is forgotten after this long."""


class Feedback:
    """The handlers behind the 👍 / 👎 buttons and the modal."""

    def __init__(self, runner: TurnRunner) -> None:
        self.runner = runner

    async def on_click(self, interaction: discord.Interaction, rating: str, turn_id: str) -> None:
        place = place_of(interaction.channel)
        if place is None:  # a button is only ever drawn in a session's thread or DM
            await interaction.response.defer()
            return
        key = encode_key(place)
        refusal = await rate_click(self.runner, key, turn_id, actor_of(interaction.user), rating)
        if rating == "down" and refusal is None:
            await interaction.response.send_modal(WentWrong(self, key, turn_id))
            return
        await interaction.response.send_message(refusal or FEEDBACK_THANKS, ephemeral=True)

    async def went_wrong(
        self, interaction: discord.Interaction, key: str, turn_id: str, text: str
    ) -> None:
        """The modal's text, recorded with the person's 👎."""
        refusal = await rate_click(
            self.runner, key, turn_id, actor_of(interaction.user), "down", text
        )
        await interaction.response.send_message(refusal or FEEDBACK_THANKS, ephemeral=True)


class WentWrong(discord.ui.Modal):
    """Asks what went wrong with an answer rated 👎."""

    def __init__(self, feedback: Feedback, key: str, turn_id: str) -> None:
        super().__init__(
            title=WHAT_WENT_WRONG, custom_id=f"mib:thumbs-down:{turn_id}", timeout=MODAL_TIMEOUT
        )
        self.feedback = feedback
        self.key = key
        self.turn_id = turn_id
        self.text = discord.ui.TextInput(
            label=WHAT_WENT_WRONG_LABEL,
            style=discord.TextStyle.paragraph,
            placeholder=WHAT_WENT_WRONG_HINT,
            max_length=COMMENT_CHARS,
            custom_id="what",
        )
        self.add_item(self.text)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.feedback.went_wrong(interaction, self.key, self.turn_id, self.text.value)
