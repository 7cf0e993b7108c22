"""The Discord adapter as ``bot.cli`` runs it: REST and gateway URLs, the client, readiness."""

from __future__ import annotations

from aiohttp import web

from adapters.discord.client import DiscordBot
from adapters.discord.endpoints import point_at
from bot.runtime import Runtime


class DiscordFrontEnd:
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
