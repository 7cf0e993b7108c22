"""Messages to the bot: mentions, DMs and thread replies become runner inputs or commands."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.approvals import GroupDirectory
from adapters.slack.files import shared_files
from adapters.slack.keys import session_key
from adapters.slack.models import ModelMenu
from adapters.slack.mrkdwn import from_slack
from adapters.slack.sessions import ACTIVE, title_of
from adapters.slack.surface import SlackSurfaces
from bot.output.views import NOTHING_RUNNING, help_lines, status_facts
from bot.platform import call_surface
from bot.session_key import platform_of
from bot.turns.commands import parse_command, run_command
from bot.turns.runner import TurnRunner

if TYPE_CHECKING:
    from adapters.slack.messages_tab import MessagesTab

logger = logging.getLogger(__name__)

THINKING = "_thinking…_"
HELP = "\n".join(
    [
        "**Talk to me** by mentioning me; in a thread I'm in, just reply. In a DM, just write.",
        "Share files with a message (logs, configs, notebooks, images): I read them.",
        "**Commands** (after the mention):",
        *(f"• {line}" for line in help_lines()),
        "• `help`: This message",
        "`model <label>` at the top of a channel sets the channel's default (approvers only).",
        "Costly actions (GPU jobs, repo writes) wait for an approval click.",
    ]
)


def at_channel_top(event: dict[str, Any]) -> bool:
    """A message at the top of a channel (or DM), not in a thread: ``model`` then sets the
    channel's default."""
    return event.get("thread_ts", event.get("ts")) == event.get("ts")


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
        tab: MessagesTab | None = None,
    ) -> None:
        self.runner = runner
        self.tab = tab
        self.store = runner.store
        self.surfaces = surfaces
        self.directory = directory
        self.replies_without_mention = replies_without_mention
        self.models = ModelMenu(runner, surfaces, directory)

    # ── listeners ────────────────────────────────────────────────────────

    async def on_mention(self, ack: AsyncAck, event: dict, context: AsyncBoltContext) -> None:
        await ack()
        await self.handle(event, context)

    async def on_message(self, ack: AsyncAck, event: dict, context: AsyncBoltContext) -> None:
        """A plain message: every DM, and replies in a thread the bot is in."""
        await ack()
        if event.get("bot_id") or not await self._addressed(event, context):
            return
        viewing = None
        if self.tab is not None and event.get("channel_type") == "im":
            viewing = await self.tab.viewing(context.team_id, event["user"])
        await self.handle(event, context, viewing=viewing)

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

    async def on_session_stopped(
        self, ack: AsyncAck, event: dict, context: AsyncBoltContext
    ) -> None:
        """Slack's own Stop button of an agent session (``agent_session_stopped``): the same
        stop as the bot's; a session with no turn running is set ``active`` at once."""
        await ack()
        key = session_key(context.team_id, {"channel": event["channel"], "ts": event["thread_ts"]})
        if not await self.runner.stop(key):
            surface = self.surfaces(key)
            await call_surface(surface, surface.session_status, ACTIVE)

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
        """A message for the bot: a command, or a question for the agent. ``viewing`` tells
        the agent the channel the person looks at beside the chat (the Messages tab,
        :mod:`adapters.slack.messages_tab`, or the split view's pane)."""
        key = session_key(context.team_id, event)
        text = from_slack(event.get("text", ""), context.bot_user_id)
        files = shared_files(event.get("files") or [])
        if not files and text.lower().rstrip(".!") in ("", "help"):
            await self._reply(key, HELP)
        elif not files and (command := parse_command(text)):
            await self._command(key, event, *command)
        else:
            await self.runner.ask(
                key,
                f"{text}\n\n{viewing}" if viewing else text,
                event["user"],
                thinking=THINKING,
                files=files,
                received=event["ts"],
                title=title_of(text),
            )

    async def _command(self, key: str, event: dict, name: str, argument: str) -> None:
        """A session command; ``status`` gets the model menu when there is a choice."""
        actor = await self.directory.actor({"id": event["user"]})
        channel_wide = at_channel_top(event)
        reply = await run_command(
            self.runner,
            key,
            actor,
            name,
            argument,
            draw_status=status_line,
            channel_wide=channel_wide,
        )
        if name == "new" and reply:
            surface = self.surfaces(key)
            await call_surface(surface, surface.close_session)
        if reply and name == "status":
            await self.models.status_reply(key, reply, channel_wide)
        elif reply:
            await self._reply(key, reply)

    async def _reply(self, key: str, text: str) -> None:
        surface = self.surfaces(key)
        await call_surface(surface, surface.post_notice, text)
