"""The slash commands: ``/ask prompt:<text>``, the session commands, ``/pending`` and
``/jobs`` (:mod:`adapters.discord.inbox`), and their sync.

Commands are synced to one guild when ``DISCORD_GUILD_ID`` is set (instant, for
development) and globally otherwise (production; Discord may take a while to
show changes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from adapters.discord.conversations import Conversations
from adapters.discord.inbox import InboxCommands
from bot.output.views import (
    AUTOAPPROVE,
    AUTOAPPROVE_BUDGET,
    JOBS,
    MODEL,
    MODEL_LABEL,
    PENDING,
    SESSION_COMMANDS,
)
from bot.turns.models import DEFAULT

MAX_CHOICES = 25
"""Discord's limit of choices for one option."""


def _session_command(
    talk: Conversations, name: str
) -> Callable[[discord.Interaction], Awaitable[None]]:
    async def callback(interaction: discord.Interaction) -> None:
        await talk.command(interaction, name)

    return callback


def add_commands(tree: app_commands.CommandTree, talk: Conversations, inbox: InboxCommands) -> None:
    @tree.command(name="ask", description="Ask the ML intern; it answers in a thread")
    @app_commands.describe(prompt="What you want done", file="A file for it to read (optional)")
    async def ask(
        interaction: discord.Interaction, prompt: str, file: discord.Attachment | None = None
    ) -> None:
        await talk.ask(interaction, prompt, file)

    @tree.command(name="autoapprove", description=AUTOAPPROVE)
    @app_commands.describe(budget=AUTOAPPROVE_BUDGET)
    async def autoapprove(
        interaction: discord.Interaction, budget: app_commands.Range[float, 0, 10_000]
    ) -> None:
        await talk.command(interaction, "autoapprove", str(budget))

    tree.add_command(model_command(talk))

    @tree.command(name="pending", description=PENDING)
    async def pending(interaction: discord.Interaction) -> None:
        await inbox.pending(interaction)

    @tree.command(name="jobs", description=JOBS)
    async def jobs(interaction: discord.Interaction) -> None:
        await inbox.jobs(interaction)

    for name, description in SESSION_COMMANDS.items():
        tree.add_command(
            app_commands.Command(
                name=name, description=description, callback=_session_command(talk, name)
            )
        )


def model_command(talk: Conversations) -> app_commands.Command:
    """``/model``: its ``label`` offers the labels of ``MODELS`` (and ``default``) as choices;
    without ``MODELS`` it takes none and says that only ``MODEL`` answers."""
    labels = list(talk.runner.models.choices.labels)[: MAX_CHOICES - 1]
    if not labels:

        async def only(interaction: discord.Interaction) -> None:
            await talk.command(interaction, "model")

        return app_commands.Command(name="model", description=MODEL, callback=only)

    @app_commands.describe(label=MODEL_LABEL)
    @app_commands.choices(
        label=[app_commands.Choice(name=label, value=label) for label in [*labels, DEFAULT]]
    )
    async def choose(interaction: discord.Interaction, label: str | None = None) -> None:
        await talk.command(interaction, "model", label or "")

    return app_commands.Command(name="model", description=MODEL, callback=choose)


async def sync_commands(tree: app_commands.CommandTree, guild_id: int | None) -> None:
    """Register the commands with Discord: in one guild, or globally."""
    if guild_id is None:
        await tree.sync()
        return
    guild = discord.Object(id=guild_id)
    tree.copy_global_to(guild=guild)
    await tree.sync(guild=guild)
