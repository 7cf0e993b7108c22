"""The discord.py client: intents, the command tree, persistent buttons, event routing.

It is an :class:`discord.AutoShardedClient`, so a large install runs as many
shards as Discord recommends, in one process.
"""

from __future__ import annotations

import discord
from discord import app_commands

from adapters.discord.approvals import Approvals
from adapters.discord.buttons import ApprovalButton, JobButton, StopButton, ThumbButton
from adapters.discord.commands import add_commands, sync_commands
from adapters.discord.conversations import Conversations
from adapters.discord.feedback import Feedback
from adapters.discord.inbox import InboxCommands
from adapters.discord.surface import DiscordSurfaces
from bot.settings import Settings
from bot.turns.runner import TurnRunner


def intents(message_content: bool) -> discord.Intents:
    """Guilds and messages; message content only when the app has that privileged intent."""
    wanted = discord.Intents.default()
    wanted.message_content = message_content
    return wanted


class DiscordBot(discord.AutoShardedClient):
    """Registers itself as the runner's ``discord`` surface factory."""

    def __init__(self, runner: TurnRunner, settings: Settings) -> None:
        super().__init__(
            intents=intents(settings.discord_message_content),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.guild_id = settings.discord_guild_id
        self.tree = app_commands.CommandTree(self)
        self.surfaces = DiscordSurfaces(
            self,
            interval=settings.discord_edit_interval_ms / 1000,
            dm_approvers=settings.discord_dm_approvers,
        )
        self.conversations = Conversations(
            self, runner, self.surfaces, message_content=settings.discord_message_content
        )
        self.inbox = InboxCommands(runner)
        self.approvals = Approvals(runner, self.surfaces, self.inbox.redraw_pending)
        self.feedback = Feedback(runner)
        add_commands(self.tree, self.conversations, self.inbox)
        runner.surfaces["discord"] = self.surfaces

    async def setup_hook(self) -> None:
        self.add_dynamic_items(StopButton, ApprovalButton, ThumbButton, JobButton)
        await sync_commands(self.tree, self.guild_id)

    async def on_message(self, message: discord.Message) -> None:
        await self.conversations.on_message(message)
