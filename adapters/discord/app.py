"""The Discord adapter as ``bot.cli`` runs it: REST and gateway URLs, the client, readiness."""

from __future__ import annotations

import discord
import yarl
from aiohttp import web

from adapters.discord.client import DiscordBot
from bot.app import Runtime
from bot.settings import Settings


def point_at(settings: Settings) -> None:
    """Send discord.py's REST calls to ``DISCORD_API_URL`` and its gateway to ``DISCORD_GATEWAY_URL``.

    Both are class attributes in discord.py, so this holds for the whole process.
    An auto-sharded client asks ``GET /gateway/bot`` (on the REST URL) for its gateway.
    """
    discord.http.Route.BASE = settings.discord_api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class DiscordAdapter:
    def __init__(self, rt: Runtime) -> None:
        point_at(rt.settings)
        self.settings = rt.settings
        self.bot = DiscordBot(rt.runner, rt.settings)

    def mount(self, http: web.Application) -> None:
        """``GET /healthz/discord``: 200 once connected to the gateway, else 503."""

        async def ready(_: web.Request) -> web.Response:
            up = self.bot.is_ready() and not self.bot.is_closed()
            return web.json_response({"ok": up}, status=200 if up else 503)

        http.router.add_get("/healthz/discord", ready)

    async def run(self) -> None:
        token = self.settings.discord_bot_token
        if token is None:
            raise RuntimeError("DISCORD_BOT_TOKEN is not set")
        async with self.bot:
            await self.bot.start(token.get_secret_value())
