"""Slack's agent messaging experience: chats with the bot in its Messages tab.

Opening the tab (``app_home_opened`` with ``tab == "messages"``) shows the greeting with
suggested prompts (``assistant.threads.setSuggestedPrompts`` without a thread). Each
message written there starts its own thread session (a DM message's own ``ts`` names
its thread, :mod:`adapters.slack.keys`). ``app_context_changed`` says which channel the
person views beside the tab: its id and name are kept per person in Redis (a day) and
told to the agent with each message from the tab, never the channel's messages.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.surface import slack_call
from bot.output.messages import viewing_channel
from bot.settings import Settings
from bot.store import redis_keys

logger = logging.getLogger(__name__)

VIEWING_SECONDS = 86_400
"""How long the channel a person views is remembered without a change."""


def prompts_of(settings: Settings) -> list[str]:
    """``SLACK_ASSISTANT_PROMPTS``: suggested prompts separated by ``|``."""
    return [p.strip() for p in settings.slack_assistant_prompts.split("|") if p.strip()]


async def on_messages_tab(event: dict[str, Any]) -> bool:
    """A Bolt matcher: ``app_home_opened`` of the Messages tab."""
    return event.get("tab") == "messages"


class MessagesTab:
    """The listeners of the Messages tab, and what a person views beside it."""

    def __init__(self, client: AsyncWebClient, redis: Redis, settings: Settings) -> None:
        self.client = client
        self.redis = redis
        self.greeting = settings.slack_assistant_greeting
        self.prompts = [{"title": p, "message": p} for p in prompts_of(settings)]

    async def on_opened(self, event: dict[str, Any]) -> None:
        """The person opened the Messages tab: the greeting and its suggested prompts."""
        if not self.prompts:
            return
        try:
            await slack_call(
                self.client.assistant_threads_setSuggestedPrompts,
                channel_id=event["channel"],
                title=self.greeting,
                prompts=self.prompts,
            )
        except SlackApiError as exc:
            logger.info("suggested prompts refused: %s", exc.response.get("error"))

    async def on_context_changed(self, event: dict[str, Any], context: Any) -> None:
        """``app_context_changed``: remember the channel the person views (id and name)."""
        channel = (event.get("context") or {}).get("channel_id")
        if not channel:
            return
        name = ""
        try:
            info = await slack_call(self.client.conversations_info, channel=channel)
            name = info["channel"].get("name") or ""
        except SlackApiError as exc:  # not a member, a DM: the id still says where
            logger.info("conversations.info refused: %s", exc.response.get("error"))
        key = redis_keys.viewing(context.team_id or "", event["user"])
        await self.redis.set(key, json.dumps({"id": channel, "name": name}), ex=VIEWING_SECONDS)

    async def viewing(self, team: str, user: str) -> str | None:
        """What the agent is told of the channel ``user`` views, if any."""
        kept = await self.redis.get(redis_keys.viewing(team, user))
        if kept is None:
            return None
        channel = json.loads(kept)
        return viewing_channel(channel["id"], channel.get("name", ""))
