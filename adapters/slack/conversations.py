"""Messages to the bot: mentions, DMs and thread replies become runner inputs or commands."""

from __future__ import annotations

import logging
import re
from typing import Any

from redis.exceptions import RedisError
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from adapters.slack.approvals import GroupDirectory
from adapters.slack.mrkdwn import from_slack
from adapters.slack.surface import SlackSurfaces
from bot.approvals.clicks import budget_command
from bot.output.messages import STORE_DOWN
from bot.platform import call_surface
from bot.session_key import SessionKey, platform_of
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

THINKING = "_thinking…_"
RECEIVED_REACTION = "eyes"
TURN_COMMANDS = ("undo", "compact", "new")
HELP = """\
**Talk to me** by mentioning me; in a thread I'm in, just reply. In a DM, just write.
**Commands** (after the mention):
• `stop`: stop what I'm doing  • `undo`: forget the last turn
• `compact`: summarise the older history  • `new`: start over in this thread
• `status`: what this thread's session holds  • `help`: this message
• `auto-approve $20`: run costly calls without a click while this thread's estimated
  spend stays under $20 (`auto-approve off` ends it)
Costly actions (GPU jobs, repo writes) wait for an approval click."""
NOTHING_RUNNING = "Nothing is running here now."
AUTO_APPROVE = re.compile(r"^auto-?approve\s*(?P<amount>.*)$")
REPLIES = {"help": HELP, "new": "🆕 Starting over: this thread's history is forgotten."}


def session_key(team: str, event: dict[str, Any]) -> str:
    """One thread is one session; a message outside a thread starts one on itself."""
    thread = event.get("thread_ts") or event["ts"]
    return SessionKey("slack", team, event["channel"], thread).encode()


def with_files(text: str, files: list[dict[str, Any]]) -> str:
    """Shared files as text references the agent can mention or fetch."""
    refs = [
        f"[attached file: {f.get('name') or f.get('title') or 'file'} "
        f"<{f.get('permalink') or f.get('url_private', '')}>]"
        for f in files
    ]
    return "\n".join([text, *refs]).strip()


def status_text(status: dict[str, Any]) -> str:
    parts = [
        f"**Status:** {status['status']}",
        f"model `{status['model']}`",
        f"{status['history_size']} messages (~{status['context_tokens']:,} tokens)",
    ]
    if status["pending_approvals"]:
        parts.append(f"{status['pending_approvals']} tool call(s) awaiting approval")
    if status["running_tools"]:
        parts.append("running: " + ", ".join(f"`{t}`" for t in status["running_tools"]))
    if status["queued"]:
        parts.append(f"{status['queued']} queued")
    if status.get("budget"):
        parts.append(status["budget"])
    return " · ".join(parts)


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
        await self._handle(event, context)

    async def on_message(self, ack: AsyncAck, event: dict, context: AsyncBoltContext) -> None:
        """A plain message: every DM, and replies in a thread the bot is in."""
        await ack()
        if event.get("bot_id") or not await self._addressed(event, context):
            return
        await self._handle(event, context)

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

    async def _handle(self, event: dict, context: AsyncBoltContext) -> None:
        key = session_key(context.team_id, event)
        text = with_files(
            from_slack(event.get("text", ""), context.bot_user_id), event.get("files", [])
        )
        command = text.lower().rstrip(".!")
        if command in ("", "help", "stop", "status", *TURN_COMMANDS):
            await self._command(command or "help", key)
        elif match := AUTO_APPROVE.match(command):
            actor = await self.directory.actor({"id": event["user"]})
            await self._reply(key, await budget_command(self.runner, key, actor, match["amount"]))
        else:
            await self._start_turn(key, event, text)

    async def _start_turn(self, key: str, event: dict, text: str) -> None:
        await self._react(event)
        await self.runner.ask(key, text, event["user"], thinking=THINKING)

    async def _command(self, command: str, key: str) -> None:
        if command in TURN_COMMANDS:
            await self.runner.submit(key, {"kind": command})
        if command == "stop":
            reply = None if await self.runner.stop(key) else NOTHING_RUNNING
        elif command == "status":
            try:
                reply = status_text(await self.runner.status(key))
            except (RedisError, OSError):
                reply = STORE_DOWN
        else:
            reply = REPLIES.get(command)
        if reply:
            await self._reply(key, reply)

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
