"""What a Discord thread shows of the job room: job cards, pings and approvers' DMs.

:class:`RoomMessages` is mixed into :class:`adapters.discord.surface.DiscordSurface`
(the :class:`~bot.platform.JobCards` and :class:`~bot.platform.Pings` capabilities);
:class:`ApproverDMs` is the surface when ``DISCORD_DM_APPROVERS`` is on
(:class:`~bot.platform.DirectMessages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import discord

from adapters.discord.cards import job_card
from adapters.discord.keys import Place, parse_key
from bot.jobs.card import JobCard
from bot.output.views import clip

MESSAGE_CHARS = 2000
WEB = "https://discord.com/channels"


def thread_url(place: Place) -> str:
    """The link that opens a session's thread (or DM) in Discord."""
    return f"{WEB}/{place.guild_id or '@me'}/{place.channel_id}"


def mention(who: str) -> str:
    """A user id or a ``role:<id>`` as Discord mentions it."""
    return f"<@&{who.removeprefix('role:')}>" if who.startswith("role:") else f"<@{who}>"


def allowed(who: Sequence[str]) -> discord.AllowedMentions:
    """Pings for exactly these users and roles (the bot pings nobody else)."""
    roles = [discord.Object(int(w.removeprefix("role:"))) for w in who if w.startswith("role:")]
    users = [discord.Object(int(w)) for w in who if w.isdigit()]
    return discord.AllowedMentions(everyone=False, users=users, roles=roles)


class RoomMessages:
    """Job cards and pings for a :class:`~adapters.discord.surface.DiscordSurface` (through
    its ``_send`` and ``update_card``)."""

    async def post_job_card(self, ref: str | None, card: JobCard, now: datetime) -> str:
        view = job_card(card, now)
        if ref is None:
            return await self._send(view=view)  # type: ignore[attr-defined]
        await self.update_card(ref, view)  # type: ignore[attr-defined]
        return ref

    async def post_ping(self, text: str, who: Sequence[str]) -> None:
        mentions = " ".join(mention(w) for w in who if w.isdigit() or w.startswith("role:"))
        content = clip(f"{text} {mentions}".strip(), MESSAGE_CHARS)
        await self._send(content=content, allowed_mentions=allowed(who))  # type: ignore[attr-defined]


class ApproverDMs:
    """Direct messages to approvers, with a link to the thread the approval waits in."""

    async def direct_message(self, user_id: str, text: str) -> None:
        client: discord.Client = self.client  # type: ignore[attr-defined]
        channel = await client.create_dm(discord.Object(int(user_id)))
        link = thread_url(parse_key(self.key))  # type: ignore[attr-defined]
        await channel.send(content=clip(f"{text}\n{link}", MESSAGE_CHARS))
