"""Where discord.py sends its REST calls and opens its gateway (both process-wide)."""

from __future__ import annotations

import discord
import yarl

from bot.settings import Settings


def point_at(settings: Settings) -> None:
    """Send discord.py's REST calls to ``DISCORD_API_URL`` and its gateway to ``DISCORD_GATEWAY_URL``.

    Both are class attributes in discord.py, so this holds for the whole process.
    An auto-sharded client asks ``GET /gateway/bot`` (on the REST URL) for its gateway.
    """
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
