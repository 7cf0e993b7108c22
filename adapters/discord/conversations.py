"""Slash commands and messages become runner inputs; the Stop button stops a turn.

``/ask`` in a server channel opens a public thread from its reply and runs the
session there; in a thread or a DM it continues that session. A message that
mentions the bot in a server channel opens a public thread on that message and
is the session's first input, as ``/ask``'s prompt is (the same admission and
limits); a mention inside a thread starts or continues that thread's session.
In a thread the bot opened, a plain message continues the session too (with the
message-content intent; without it, only messages that mention the bot carry
text). While the
model thinks the thread shows a typing indicator, not a placeholder message;
answers stream into messages the bot posts with its own token. Files attached to
a message (or to ``/ask``) go with it: the turn downloads them from Discord's
CDN. ``/model`` in a thread chooses its model; in a server channel, the
channel's default.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from adapters.discord.approvals import actor_of
from adapters.discord.errors import failure, reason
from adapters.discord.keys import Place, encode_key, place_of
from adapters.discord.surface import DiscordSurfaces
from bot.attachments import SharedFile
from bot.output.views import NOTHING_RUNNING, clip, status_facts
from bot.store import redis_keys
from bot.turns.commands import run_command
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

THREAD_NAME_CHARS = 90
QUOTE_CHARS = 1800
USE_IN_THREAD = (
    "Use this inside a thread I opened (with `/ask` or an @mention), or in a DM with me."
)


def status_lines(status: dict[str, Any]) -> str:
    """What a ``status`` command answers, a line per fact."""
    return "\n".join(f"**{label}:** {value}" for label, value in status_facts(status))


def quote(user: discord.abc.User, prompt: str) -> str:
    return f"**{user.display_name}** asked:\n>>> {clip(prompt, QUOTE_CHARS)}"


def attached_files(attachments: list[discord.Attachment]) -> list[SharedFile]:
    """A message's attachments: their CDN links are signed and need no token (they expire)."""
    return [SharedFile(a.filename, a.url, a.size, a.content_type) for a in attachments]


def thread_name(prompt: str) -> str:
    """The prompt on one line, cut to fit a thread name."""
    return " ".join(prompt.split())[:THREAD_NAME_CHARS] or "ask"


class Conversations:
    """The handlers of ``/ask``, the session commands, messages and the Stop button."""

    def __init__(
        self,
        client: discord.Client,
        runner: TurnRunner,
        surfaces: DiscordSurfaces,
        *,
        message_content: bool,
    ) -> None:
        self.client = client
        self.runner = runner
        self.store = runner.store
        self.surfaces = surfaces
        self.message_content = message_content

    # ── slash commands ───────────────────────────────────────────────────

    async def ask(
        self,
        interaction: discord.Interaction,
        prompt: str,
        file: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        place = place_of(interaction.channel)
        original = await interaction.edit_original_response(content=quote(interaction.user, prompt))
        if place is None:
            try:
                thread = await original.create_thread(name=thread_name(prompt))
            except discord.HTTPException as exc:
                logger.warning(
                    "could not open a thread in %s: %s", interaction.channel_id, failure(exc)
                )
                await interaction.followup.send(
                    f"I couldn't open a thread here ({reason(exc)}).", ephemeral=True
                )
                return
            place = Place(interaction.guild_id, original.channel.id, thread.id)
        files = attached_files([file] if file else [])
        await self.start_turn(encode_key(place), prompt, interaction.user, files)

    async def command(
        self, interaction: discord.Interaction, name: str, argument: str = ""
    ) -> None:
        """A session command (``/new``, ``/status``, ``/autoapprove``…) on this thread's session;
        ``/model`` in a server channel acts on the channel's default."""
        place = place_of(interaction.channel)
        channel_wide = place is None and name == "model"
        if channel_wide and interaction.guild_id and interaction.channel_id:
            place = Place(interaction.guild_id, interaction.channel_id, interaction.channel_id)
        if place is None:
            await interaction.response.send_message(USE_IN_THREAD, ephemeral=True)
            return
        await interaction.response.defer(thinking=True)
        actor = actor_of(interaction.user)
        reply = await run_command(
            self.runner,
            encode_key(place),
            actor,
            name,
            argument,
            draw_status=status_lines,
            channel_wide=channel_wide,
        )
        if reply is None:  # refused as an input: the thread has been told why
            await interaction.delete_original_response()
        else:
            await interaction.edit_original_response(content=reply)

    async def on_stop(self, interaction: discord.Interaction) -> None:
        """The Stop button of a streaming answer."""
        place = place_of(interaction.channel)
        if place is not None and await self.runner.stop(encode_key(place)):
            await interaction.response.defer()
        else:
            await interaction.response.send_message(NOTHING_RUNNING, ephemeral=True)

    # ── messages ─────────────────────────────────────────────────────────

    async def on_message(self, message: discord.Message) -> None:
        """A DM, or a message in a thread the bot opened, continues that session; a mention
        of the bot in a server channel opens a thread on that message and answers there."""
        me = self.client.user
        if message.author.bot or me is None:
            return
        channel: Any = message.channel
        if isinstance(channel, discord.PartialMessageable):  # a channel the cache doesn't know
            channel = await self.client.fetch_channel(channel.id)
        place = place_of(channel)
        mentioned = any(m.id == me.id for m in message.mentions)
        if place is None:
            if not (mentioned and isinstance(channel, discord.TextChannel)):
                return
        elif not await self._addressed(channel, place, mentioned, me):
            return
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        files = attached_files(message.attachments)
        if not (text or files) or not await self.store.first_seen(
            redis_keys.platform_event("discord", message.id)
        ):
            return
        if place is None:
            place = await self._open_thread(channel, message, text)
            if place is None:
                return
        await self.start_turn(encode_key(place), text, message.author, files)

    async def _addressed(
        self, channel: Any, place: Place, mentioned: bool, me: discord.ClientUser
    ) -> bool:
        """Every DM; in a thread, a mention of the bot, and with the message-content intent
        any message in a thread that is a session (the bot opened it, or was asked in it)."""
        if place.guild_id is None or mentioned:
            return True
        if not self.message_content:
            return False
        return channel.owner_id == me.id or bool(await self.store.meta(encode_key(place)))

    async def _open_thread(
        self, channel: discord.TextChannel, message: discord.Message, text: str
    ) -> Place | None:
        """A public thread on the message that mentioned the bot; None (logged) if refused."""
        try:
            thread = await channel.create_thread(name=thread_name(text), message=message)
        except discord.HTTPException as exc:
            logger.warning("could not open a thread in %s: %s", channel.id, exc)
            return None
        return Place(channel.guild.id, channel.id, thread.id)

    # ── turns ────────────────────────────────────────────────────────────

    async def start_turn(
        self, key: str, text: str, user: discord.abc.User, files: list[SharedFile] | None = None
    ) -> None:
        """Queue the input (and its files); the thread shows a typing indicator until the
        answer starts."""
        await self.runner.ask(key, text, str(user.id), thinking=None, files=files or [])
