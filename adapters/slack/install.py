"""The Slack app manifest: exactly the scopes, events and interactivity the adapter uses."""

from __future__ import annotations

from typing import Any

import yaml

from adapters.slack.frontend import EVENTS_PATH
from bot.settings import Settings

BOT_SCOPES = [
    "app_mentions:read",  # app_mention events
    "channels:history",  # thread replies in public channels (message.channels)
    "groups:history",  # ... in private channels (message.groups)
    "im:history",  # DMs (message.im)
    "mpim:history",  # group DMs (message.mpim)
    "chat:write",  # answers, edits, streams, approval cards, ephemeral replies
    "assistant:write",  # the thread status while a turn works (assistant.threads.setStatus)
    "reactions:write",  # the :eyes: on a message the bot picked up
    "files:write",  # long tool outputs attached in full
    "usergroups:read",  # APPROVERS given as user groups
]
BOT_EVENTS = ["app_mention", "message.channels", "message.groups", "message.im", "message.mpim"]
PLACEHOLDER_URL = "https://YOUR-BOT-HOST"
ASSISTANT_DESCRIPTION = "Ask me to find models and datasets, train, evaluate or run HF Jobs."


def manifest(settings: Settings) -> dict[str, Any]:
    socket_mode = settings.slack_app_token is not None
    base = (settings.slack_public_url or PLACEHOLDER_URL).rstrip("/")
    events: dict[str, Any] = {"bot_events": BOT_EVENTS}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        events["request_url"] = base + EVENTS_PATH
        interactivity["request_url"] = base + EVENTS_PATH
    return {
        "display_information": {
            "name": "ml-intern",
            "description": "An ML-engineering agent that works on the Hugging Face Hub.",
        },
        "features": {
            "bot_user": {"display_name": "ml-intern", "always_online": True},
            "app_home": {"messages_tab_enabled": True, "messages_tab_read_only_enabled": False},
            # assistant:write comes with Slack's AI-app feature; its threads arrive as DMs
            "assistant_view": {"assistant_description": ASSISTANT_DESCRIPTION},
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(settings: Settings) -> str:
    return yaml.safe_dump(manifest(settings), sort_keys=False)
