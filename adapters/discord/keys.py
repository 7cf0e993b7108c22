"""Discord session keys, built and parsed here only.

A session is a thread the bot opened (``discord:<guild>:<parent channel>:<thread>``)
or a DM channel (``discord:dm:<channel>:<channel>``). Messages of a session go to
the channel in the last part: the thread, or the DM.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.session_key import SessionKey

PLATFORM = "discord"
DM = "dm"


@dataclass(frozen=True)
class Place:
    """Where a session lives: ``guild_id`` is None in a DM; ``channel_id`` takes its messages."""

    guild_id: int | None
    parent_id: int
    channel_id: int


def encode_key(place: Place) -> str:
    guild = str(place.guild_id) if place.guild_id else DM
    return SessionKey(PLATFORM, guild, str(place.parent_id), str(place.channel_id)).encode()


def parse_key(key: str) -> Place:
    parts = SessionKey.parse(key)
    if parts.platform != PLATFORM:
        raise ValueError(f"not a Discord session key: {key!r}")
    guild = None if parts.team == DM else int(parts.team)
    return Place(guild, int(parts.channel), int(parts.thread))


def place_of(channel: object) -> Place | None:
    """The session place of a thread or DM channel; None elsewhere (a guild text channel)."""
    if isinstance(channel, discord.Thread) and channel.parent_id:
        return Place(channel.guild.id, channel.parent_id, channel.id)
    if isinstance(channel, discord.DMChannel):
        return Place(None, channel.id, channel.id)
    return None
