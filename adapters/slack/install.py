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
    "assistant:write",  # thread statuses, agent sessions, suggested prompts, titles
]
BOT_EVENTS = [
    "app_mention",
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "app_home_opened",  # App Home: the approvals inbox and the job room; the Messages tab
    "agent_session_stopped",  # Slack's own Stop button of an agent session
]
PLACEHOLDER_URL = "https://YOUR-BOT-HOST"


DESCRIPTION = "An ML-engineering agent that works on the Hugging Face Hub."
AGENT_EVENTS = ["app_context_changed"]
"""The agent messaging experience: which channel a person views beside the Messages tab."""
SPLIT_EVENTS = ["assistant_thread_started", "assistant_thread_context_changed"]
"""The older split view (the assistant pane)."""


def manifest(settings: Settings) -> dict[str, Any]:
    """The app's manifest: the agent messaging experience (``features.agent_view``), or
    with ``SLACK_ASSISTANT_VIEW=split`` the older split view (``assistant_view``)."""
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
    if settings.slack_assistant_view == "split":
        bot_events += SPLIT_EVENTS
        features["assistant_view"] = {"assistant_description": DESCRIPTION, "suggested_prompts": []}
    else:
        bot_events += AGENT_EVENTS
        features["agent_view"] = {"agent_description": DESCRIPTION}
    events: dict[str, Any] = {"bot_events": bot_events}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        events["request_url"] = base + EVENTS_PATH
        interactivity["request_url"] = base + EVENTS_PATH
    return {
        "display_information": {
            "name": "ml-intern",
            "description": DESCRIPTION,
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
