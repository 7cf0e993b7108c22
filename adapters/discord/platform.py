"""Discord as a :class:`bot.platforms.Platform`: what ``run``, ``worker`` and ``doctor`` call."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.discord.frontend import DiscordFrontEnd
    from adapters.discord.surface import DiscordSurfaces
    from bot.runtime import Runtime
    from bot.settings import Settings


class Discord:
    name = "discord"
    install_command = "invite"

    def configured(self, settings: Settings) -> bool:
        return settings.discord_enabled

    def front_end(self, rt: Runtime) -> DiscordFrontEnd:
        from adapters.discord.frontend import DiscordFrontEnd

        return DiscordFrontEnd(rt)

    async def worker_surfaces(self, rt: Runtime) -> DiscordSurfaces | None:
        """Surfaces over REST only (logged in, no gateway), if Discord is set up."""
        from adapters.discord.surface import DiscordSurfaces, rest_client

        settings = rt.settings
        if settings.discord_bot_token is None:
            return None
        client = await rest_client(settings)
        return DiscordSurfaces(
            client,
            interval=settings.discord_edit_interval_ms / 1000,
            dm_approvers=settings.discord_dm_approvers,
        )

    async def check_auth(self, settings: Settings) -> str:
        """The bot token logs in."""
        from adapters.discord.surface import rest_client

        client = await rest_client(settings)
        try:
            return f"logged in as {client.user}"
        finally:
            await client.close()

    def install_text(self, settings: Settings) -> str:
        from adapters.discord.install import invite_url

        return invite_url(settings)


PLATFORM = Discord()
