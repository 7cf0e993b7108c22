"""The model menu under a ``status`` reply (a Block Kit ``static_select``), and a choice from it.

The menu lists the labels of ``MODELS`` with the current one selected. Its block id
says what it acts on: the thread the status was asked in, or (asked at the top of
a channel) the channel's default; choosing runs the ``model`` command for the
person who chose, so the same people may change the same things as by typing it.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from adapters.slack import cards
from adapters.slack.approvals import GroupDirectory
from adapters.slack.keys import PLATFORM
from adapters.slack.mrkdwn import to_mrkdwn
from adapters.slack.surface import SlackSurfaces
from bot.output.messages import MODEL_FORBIDDEN
from bot.platform import call_surface
from bot.session_key import SessionKey
from bot.turns.commands import model_command
from bot.turns.models import Chosen, ModelChoices
from bot.turns.runner import TurnRunner

MODEL_ACTION = "mib:model_menu"
MAX_OPTIONS = 100
"""Slack's limit of options in one static_select."""
OPTION_CHARS = 75
"""Slack's limit for an option's text and description."""
SCOPES = {"thread": False, "channel": True}
"""The first part of the menu's block id: does a choice change the channel's default?"""


def _option(label: str, model: str) -> dict[str, Any]:
    return {
        "text": cards.plain(label[:OPTION_CHARS]),
        "value": label,
        "description": cards.plain(model[:OPTION_CHARS]),
    }


def model_menu(
    choices: ModelChoices, chosen: Chosen, key: str, channel_wide: bool
) -> dict[str, Any]:
    """An actions block with the models to choose from, the current one selected."""
    labels = list(choices.labels.items())[:MAX_OPTIONS]
    placeholder = "Model for this channel" if channel_wide else "Model for this thread"
    menu: dict[str, Any] = {
        "type": "static_select",
        "action_id": MODEL_ACTION,
        "placeholder": cards.plain(placeholder),
        "options": [_option(label, model) for label, model in labels],
    }
    if chosen.label in dict(labels):
        menu["initial_option"] = _option(chosen.label, chosen.model)  # type: ignore[arg-type]
    scope = "channel" if channel_wide else "thread"
    return {"type": "actions", "block_id": f"{scope}|{key}", "elements": [menu]}


class ModelMenu:
    """Posts ``status`` replies with the menu, and takes choices from it."""

    def __init__(
        self, runner: TurnRunner, surfaces: SlackSurfaces, directory: GroupDirectory
    ) -> None:
        self.runner = runner
        self.surfaces = surfaces
        self.directory = directory

    async def status_reply(self, key: str, text: str, channel_wide: bool) -> None:
        """``text`` (a status) in the thread of ``key``, with the menu when there is a choice."""
        surface = self.surfaces(key)
        choices = self.runner.models.choices
        if not choices.offered:
            await call_surface(surface, surface.post_notice, text)
            return
        chosen = await self.runner.models.chosen(key)
        body = to_mrkdwn(text)
        payload = {
            "text": body[: cards.TEXT_CHARS],
            "blocks": [cards.section(body), model_menu(choices, chosen, key, channel_wide)],
        }
        await call_surface(surface, surface.post_message, payload)

    async def on_select(self, ack: AsyncAck, body: dict, action: dict) -> None:
        """A model chosen from the menu: the ``model`` command, answered in the thread."""
        await ack()
        scope, _, key = str(action.get("block_id", "")).partition("|")
        label = (action.get("selected_option") or {}).get("value", "")
        if scope not in SCOPES or not label or not _slack_key(key):
            return
        actor = await self.directory.actor(body["user"])
        reply = await model_command(self.runner, key, actor, label, channel_wide=SCOPES[scope])
        surface = self.surfaces(key)
        if reply == MODEL_FORBIDDEN:  # only the person who chose needs to know
            await call_surface(surface, surface.post_ephemeral, actor.user_id, reply)
        else:
            await call_surface(surface, surface.post_notice, reply)


def _slack_key(key: str) -> bool:
    try:
        return SessionKey.parse(key).platform == PLATFORM
    except ValueError:
        return False
