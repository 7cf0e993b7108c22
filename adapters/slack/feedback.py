"""👍 / 👎 clicks under a final answer (``feedback_buttons``), and the "what went wrong"
modal a 👎 opens.

Anyone in the thread may rate. A click is recorded at once (a 👎 before its modal
opens: closing the modal keeps the 👎); the modal's text goes with it, and only the
person who clicked is answered.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from adapters.slack.cards import parse_thumbs_value
from adapters.slack.errors import failure
from adapters.slack.surface import SlackSurfaces
from bot.approvals.actor import Actor
from bot.output.messages import (
    FEEDBACK_THANKS,
    WHAT_WENT_WRONG,
    WHAT_WENT_WRONG_HINT,
    WHAT_WENT_WRONG_LABEL,
    WHAT_WENT_WRONG_SEND,
    WHAT_WENT_WRONG_SKIP,
)
from bot.platform import call_surface
from bot.turns.clicks import rate_click
from bot.turns.feedback import COMMENT_CHARS
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

WENT_WRONG_CALLBACK = "mib:thumbs-down"
WHAT = "what"
"""The block id of the modal's text input."""


def went_wrong_modal(key: str, turn_id: str) -> dict[str, Any]:
    """The form a 👎 opens; its metadata names the session and turn."""
    text = PlainTextInputElement(action_id="text", multiline=True, max_length=COMMENT_CHARS)
    return View(
        type="modal",
        callback_id=WENT_WRONG_CALLBACK,
        private_metadata=json.dumps({"key": key, "turn": turn_id}),
        title=WHAT_WENT_WRONG,
        submit=WHAT_WENT_WRONG_SEND,
        close=WHAT_WENT_WRONG_SKIP,
        blocks=[
            InputBlock(
                block_id=WHAT, label=WHAT_WENT_WRONG_LABEL, element=text, hint=WHAT_WENT_WRONG_HINT
            )
        ],
    ).to_dict()


def actor_of(user: dict[str, Any]) -> Actor:
    return Actor(user["id"], name=user.get("username") or user.get("name") or "")


class Feedback:
    """The listeners for the 👍 / 👎 buttons and the modal."""

    def __init__(self, runner: TurnRunner, surfaces: SlackSurfaces) -> None:
        self.runner = runner
        self.surfaces = surfaces

    async def on_click(self, ack: AsyncAck, body: dict, action: dict) -> None:
        await ack()
        try:
            rating, turn_id, key = parse_thumbs_value(action.get("value", ""))
        except ValueError:
            logger.warning("a feedback click with a value we never drew: %r", action.get("value"))
            return
        actor = actor_of(body["user"])
        refusal = await rate_click(self.runner, key, turn_id, actor, rating)
        if rating == "down" and refusal is None:
            try:
                modal = went_wrong_modal(key, turn_id)
                await self.surfaces.client.views_open(trigger_id=body["trigger_id"], view=modal)
                return
            except SlackApiError as exc:  # the 👎 is recorded: thank them instead
                logger.warning("the what-went-wrong modal: %s", failure(exc))
        await self._tell(key, actor, refusal or FEEDBACK_THANKS)

    async def on_submitted(self, ack: AsyncAck, body: dict, view: dict) -> None:
        await ack()
        target = json.loads(view["private_metadata"])
        text = view["state"]["values"][WHAT]["text"].get("value") or ""
        actor = actor_of(body["user"])
        refusal = await rate_click(self.runner, target["key"], target["turn"], actor, "down", text)
        await self._tell(target["key"], actor, refusal or FEEDBACK_THANKS)

    async def _tell(self, key: str, actor: Actor, text: str) -> None:
        """An ephemeral reply to ``actor`` in the thread of ``key``."""
        surface = self.surfaces(key)
        await call_surface(surface, surface.post_ephemeral, actor.user_id, text)
