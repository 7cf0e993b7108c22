"""Messages to the bot: mentions, DMs and thread replies become runner inputs or commands."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from adapters.slack.approvals import GroupDirectory
from adapters.slack.keys import session_key
from adapters.slack.mrkdwn import from_slack
from adapters.slack.surface import SlackSurfaces
from bot.output.messages import viewing_channel
from bot.output.views import NOTHING_RUNNING, help_lines, status_facts
from bot.platform import call_surface
from bot.session_key import platform_of
from bot.turns.commands import parse_command, run_command
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

THINKING = "_thinking…_"
RECEIVED_REACTION = "eyes"
HELP = "\n".join(
    [
        "**Talk to me** by mentioning me; in a thread I'm in, just reply. In a DM, just write.",
        "**Commands** (after the mention):",
        *(f"• {line}" for line in help_lines()),
        "• `help`: This message",
        "Costly actions (GPU jobs, repo writes) wait for an approval click.",
    ]
)


def with_files(text: str, files: list[dict[str, Any]]) -> str:
    """Shared files as text references the agent can mention or fetch."""
    refs = [
        f"[attached file: {f.get('name') or f.get('title') or 'file'} "
        f"<{f.get('permalink') or f.get('url_private', '')}>]"
        for f in files
    ]
    return "\n".join([text, *refs]).strip()


def status_line(status: dict[str, Any]) -> str:
    """What a ``status`` command answers, on one line."""
    return " · ".join(f"**{label}:** {value}" for label, value in status_facts(status))


class Conversations:
    """The event listeners for messages and the Stop button."""

    def __init__(
        self,
        runner: TurnRunner,
        surfaces: SlackSurfaces,
        directory: GroupDirectory,
        *,
        replies_without_mention: bool,
    ) -> None:
        self.runner = runner
        self.store = runner.store
        self.surfaces = surfaces
        self.directory = directory
        self.replies_without_mention = replies_without_mention

    # ── listeners ────────────────────────────────────────────────────────

    async def on_mention(self, ack: AsyncAck, event: dict, context: AsyncBoltContext) -> None:
        await ack()
        await self.handle(event, context)

    async def on_message(self, ack: AsyncAck, event: dict, context: AsyncBoltContext) -> None:
        """A plain message: every DM, and replies in a thread the bot is in."""
        await ack()
        if event.get("bot_id") or not await self._addressed(event, context):
            return
        await self.handle(event, context)

    async def on_ignored(self, ack: AsyncAck) -> None:
        """Edits, deletions, bot messages and other subtypes: acknowledged, nothing else."""
        await ack()

    async def on_stop(self, ack: AsyncAck, body: dict, action: dict) -> None:
        await ack()
        key = action["value"]
        if platform_of(key) != "slack":
            return
        if not await self.runner.stop(key):
            surface = self.surfaces(key)
            await call_surface(surface, surface.post_ephemeral, body["user"]["id"], NOTHING_RUNNING)

    # ── handling ─────────────────────────────────────────────────────────

    async def _addressed(self, event: dict, context: AsyncBoltContext) -> bool:
        if event.get("channel_type") == "im":
            return True
        if not self.replies_without_mention or "thread_ts" not in event:
            return False
        if f"<@{context.bot_user_id}>" in event.get("text", ""):
            return False  # the app_mention event of this message brings it
        return bool(await self.store.meta(session_key(context.team_id, event)))

    async def handle(
        self, event: dict, context: AsyncBoltContext, *, viewing: str | None = None
    ) -> None:
        """A message for the bot: a command, or a question for the agent. ``viewing`` is the
        channel the person looks at beside the assistant pane (:mod:`adapters.slack.assistant`)."""
        key = session_key(context.team_id, event)
        text = with_files(
            from_slack(event.get("text", ""), context.bot_user_id), event.get("files", [])
        )
        if text.lower().rstrip(".!") in ("", "help"):
            await self._reply(key, HELP)
        elif command := parse_command(text):
            actor = await self.directory.actor({"id": event["user"]})
            reply = await run_command(self.runner, key, actor, *command, draw_status=status_line)
            if reply:
                await self._reply(key, reply)
        else:
            await self._react(event)
            if viewing:
                text = f"{text}\n\n{viewing_channel(viewing)}"
            await self.runner.ask(key, text, event["user"], thinking=THINKING)

    async def _reply(self, key: str, text: str) -> None:
        surface = self.surfaces(key)
        await call_surface(surface, surface.post_notice, text)

    async def _react(self, event: dict) -> None:
        try:
            await self.surfaces.client.reactions_add(
                channel=event["channel"], timestamp=event["ts"], name=RECEIVED_REACTION
            )
        except SlackApiError as exc:  # e.g. already_reacted: a nicety, never a failure
            logger.info("reactions.add failed: %s", exc.response.get("error"))
