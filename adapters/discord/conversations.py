"""Slash commands and messages become runner inputs; the Stop button stops a turn.

``/ask`` in a server channel opens a public thread from its reply and runs the
session there; in a thread or a DM it continues that session. In a thread the
bot opened, a plain message continues the session (with the message-content
intent; without it, only messages that mention the bot carry text). Answers
stream into a message the bot posts with its own token.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from redis.exceptions import RedisError

from adapters.discord.approvals import actor_of
from adapters.discord.keys import Place, encode_key, place_of
from adapters.discord.surface import DiscordSurfaces
from bot.approvals.clicks import budget_command
from bot.store import redis_keys
from bot.turns.runner import STORE_DOWN, TurnRunner

logger = logging.getLogger(__name__)

THINKING = "*thinking…*"
THREAD_NAME_CHARS = 90
QUOTE_CHARS = 1800
TURN_COMMANDS = {
    "new": "🆕 Starting over: this thread's history is forgotten.",
    "undo": "↩️ Undoing the last turn…",
    "compact": "🗜️ Compacting the conversation…",
}
SESSION_COMMANDS = {
    "new": "Start over in this thread: forget its history",
    "undo": "Forget the last turn of this thread",
    "compact": "Summarise the older history of this thread",
    "stop": "Stop what the agent is doing in this thread",
    "status": "Model, history size, pending approvals and running tools of this thread",
}
USE_IN_THREAD = "Use this inside a thread I opened with `/ask` (or in a DM with me)."
NOTHING_RUNNING = "Nothing is running here now."
STOPPING = "⏹️ Stopping…"


def status_text(status: dict[str, Any]) -> str:
    lines = [
        f"**Status:** {status['status']}",
        f"**Model:** `{status['model']}`",
        f"**History:** {status['history_size']} messages (~{status['context_tokens']:,} tokens)",
        f"**Pending approvals:** {status['pending_approvals']}",
        "**Running tools:** " + (", ".join(f"`{t}`" for t in status["running_tools"]) or "none"),
    ]
    if status["queued"]:
        lines.append(f"**Queued:** {status['queued']}")
    if status.get("budget"):
        lines.append(f"**Budget:** {status['budget']}")
    return "\n".join(lines)


def quote(user: discord.abc.User, prompt: str) -> str:
    text = prompt if len(prompt) <= QUOTE_CHARS else prompt[: QUOTE_CHARS - 1] + "…"
    return f"**{user.display_name}** asked:\n>>> {text}"


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

    async def ask(self, interaction: discord.Interaction, prompt: str) -> None:
        await interaction.response.defer(thinking=True)
        place = place_of(interaction.channel)
        original = await interaction.edit_original_response(content=quote(interaction.user, prompt))
        if place is None:
            try:
                thread = await original.create_thread(name=thread_name(prompt))
            except discord.HTTPException as exc:
                logger.warning("could not open a thread in %s: %s", interaction.channel_id, exc)
                await interaction.followup.send(
                    f"I couldn't open a thread here ({exc.text}).", ephemeral=True
                )
                return
            place = Place(interaction.guild_id, original.channel.id, thread.id)
        await self.start_turn(encode_key(place), prompt, interaction.user)

    async def _session_of(self, interaction: discord.Interaction) -> str | None:
        """The session key of the thread a command is used in (deferred); None: told to use one."""
        place = place_of(interaction.channel)
        if place is None:
            await interaction.response.send_message(USE_IN_THREAD, ephemeral=True)
            return None
        await interaction.response.defer(thinking=True)
        return encode_key(place)

    async def autoapprove(self, interaction: discord.Interaction, budget: float) -> None:
        """``/autoapprove budget:<usd>``: run costly calls without a click up to ``budget`` (0: off)."""
        key = await self._session_of(interaction)
        if key is not None:
            actor = actor_of(interaction.user)
            reply = await budget_command(self.runner, key, actor, str(budget))
            await interaction.edit_original_response(content=reply)

    async def command(self, interaction: discord.Interaction, name: str) -> None:
        """``/new``, ``/undo``, ``/compact``, ``/stop``, ``/status`` on this thread's session."""
        key = await self._session_of(interaction)
        if key is None:
            return
        if name in TURN_COMMANDS:
            await self.runner.submit(key, {"kind": name, "user": str(interaction.user.id)})
            reply = TURN_COMMANDS[name]
        elif name == "stop":
            reply = STOPPING if await self.runner.stop(key) else NOTHING_RUNNING
        else:
            try:
                reply = status_text(await self.runner.status(key))
            except (RedisError, OSError):
                reply = STORE_DOWN
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
        """A DM, or a message in a thread the bot opened, continues that session."""
        me = self.client.user
        if message.author.bot or me is None:
            return
        channel: Any = message.channel
        if isinstance(channel, discord.PartialMessageable):  # a thread the cache doesn't know
            channel = await self.client.fetch_channel(channel.id)
        place = place_of(channel)
        if place is None or not await self._addressed(message, channel, place, me):
            return
        text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        if not text or not await self.store.first_seen(
            redis_keys.platform_event("discord", message.id)
        ):
            return
        await self.start_turn(encode_key(place), text, message.author)

    async def _addressed(
        self, message: discord.Message, channel: Any, place: Place, me: discord.ClientUser
    ) -> bool:
        """Every DM; in a thread, with the intent any message, else only mentions of the bot."""
        if place.guild_id is None:
            return True
        if not self.message_content and not me.mentioned_in(message):
            return False
        return channel.owner_id == me.id or bool(await self.store.meta(encode_key(place)))

    # ── turns ────────────────────────────────────────────────────────────

    async def start_turn(self, key: str, text: str, user: discord.abc.User) -> None:
        """Post the message the answer streams into, then queue the input."""
        await self.runner.ask(key, text, str(user.id), thinking=THINKING)
