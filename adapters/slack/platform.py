"""Slack as a :class:`bot.platforms.Platform`: what ``run``, ``worker`` and ``doctor`` call."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.slack.frontend import SlackFrontEnd
    from adapters.slack.surface import SlackSurfaces
    from bot.runtime import Runtime
    from bot.settings import Settings


class Slack:
    name = "slack"
    install_command = "manifest"

    def configured(self, settings: Settings) -> bool:
        return settings.slack_enabled

    def front_end(self, rt: Runtime) -> SlackFrontEnd:
        from adapters.slack.frontend import SlackFrontEnd

        return SlackFrontEnd(rt)

    async def worker_surfaces(self, rt: Runtime) -> SlackSurfaces | None:
        """Slack surfaces with no event listener, if Slack is set up."""
        from adapters.slack.surface import slack_surfaces

        return slack_surfaces(rt.settings) if rt.settings.slack_bot_token else None

    async def check_auth(self, settings: Settings) -> str:
        """The bot token works (``auth.test``)."""
        from slack_sdk.errors import SlackApiError

        from adapters.slack.errors import failure
        from adapters.slack.surface import slack_surfaces

        surfaces = slack_surfaces(settings)
        try:
            answer = await surfaces.client.auth_test()
        except SlackApiError as exc:
            refused = failure(exc)
            raise PermissionError(f"Slack refused SLACK_BOT_TOKEN: {refused.reason}") from exc
        finally:
            await surfaces.aclose()
        return f"workspace {answer.get('team', answer.get('team_id'))} as @{answer.get('user')}"

    def install_text(self, settings: Settings) -> str:
        from adapters.slack.install import manifest_yaml

        return manifest_yaml(settings)


PLATFORM = Slack()
