"""The Slack app manifest: exactly the scopes, events and interactivity the adapter uses."""

from __future__ import annotations

from typing import Any

import yaml

from bot.settings import Settings

EVENTS_PATH = "/slack/events"
"""Where Slack POSTs events and interactions (HTTP mode)."""

BOT_SCOPES = [
    "app_mentions:read",  # app_mention events
    "channels:history",  # thread replies in public channels (message.channels); read back
    # after a crash (conversations.replies), as the next three for their conversations
    "groups:history",  # ... in private channels (message.groups)
    "im:history",  # DMs (message.im)
    "mpim:history",  # group DMs (message.mpim)
    "chat:write",  # answers, edits, streams, approval cards, ephemeral replies
    "reactions:write",  # the :eyes: on a message the bot picked up
    "files:write",  # long tool outputs attached in full
    "files:read",  # files people share with the agent (url_private downloads)
    "usergroups:read",  # APPROVERS given as user groups
    "channels:read",  # App Home: the channels a person is in (users.conversations) ...
    "groups:read",  # ... private channels
    "im:read",  # ... DMs with the bot
    "mpim:read",  # ... group DMs
]
BOT_EVENTS = [
    "app_mention",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "app_home_opened",  # App Home: the approvals inbox and the job control room
]
PLACEHOLDER_URL = "https://YOUR-BOT-HOST"


ASSISTANT_SCOPES = ["assistant:write"]  # greeting, suggested prompts, titles in the pane
ASSISTANT_EVENTS = ["assistant_thread_started", "assistant_thread_context_changed"]


def manifest(settings: Settings) -> dict[str, Any]:
    socket_mode = settings.slack_app_token is not None
    base = (settings.slack_public_url or PLACEHOLDER_URL).rstrip("/")
    scopes, bot_events = list(BOT_SCOPES), list(BOT_EVENTS)
    features: dict[str, Any] = {
        "bot_user": {"display_name": "ml-intern", "always_online": True},
        "app_home": {
            "home_tab_enabled": True,
            "messages_tab_enabled": True,
            "messages_tab_read_only_enabled": False,
        },
    }
    if settings.slack_assistant:  # the AI-app split view asks for its extras only when on
        scopes += [s for s in ASSISTANT_SCOPES if s not in scopes]
        bot_events += ASSISTANT_EVENTS
        features["assistant_view"] = {
            "assistant_description": "An ML-engineering agent that works on the Hugging Face Hub.",
            "suggested_prompts": [],
        }
    events: dict[str, Any] = {"bot_events": bot_events}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        events["request_url"] = base + EVENTS_PATH
        interactivity["request_url"] = base + EVENTS_PATH
    return {
        "display_information": {
            "name": "ml-intern",
            "description": "An ML-engineering agent that works on the Hugging Face Hub.",
        },
        "features": features,
        "oauth_config": {"scopes": {"bot": scopes}},
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
