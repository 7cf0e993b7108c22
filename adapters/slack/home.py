"""Slack's App Home: the approvals inbox and the job control room of the person looking.

When someone opens the bot's Home tab (``app_home_opened``) it is published for
them (``views.publish``) with three parts, drawn from :class:`bot.turns.inbox.Inbox`:

* *Waiting for you*: the tool calls pending in threads of channels they are a
  member of that the team's rules let them decide (and they have not approved
  yet), with Approve, Reject and Open thread;
* *Running jobs* started from those threads: flavor, elapsed, estimated cost so
  far, with Logs, Cancel and Open thread;
* *Budgets*: the auto-approve budgets of those channels and what is spent.

Clicks decide exactly as on the thread's card (:func:`bot.turns.clicks.decide_click`,
the same rules); the clicker's Home is redrawn at once, with a line saying why
when a click was refused. The Logs and Cancel buttons of job cards in threads
land here too. Everyone else who opened their Home in the last day gets it
redrawn when the inbox changes (:meth:`AppHome.run` watches ``mib:changes``;
each change is redrawn by one process, at most one round per ``poll`` seconds,
behind a rate gate within ``views.publish``'s limits).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import datetime
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError

from adapters.slack import modals
from adapters.slack.approvals import GroupDirectory, clicked_in
from adapters.slack.cards import actions, button, context, section
from adapters.slack.errors import failure
from adapters.slack.mrkdwn import escape
from adapters.slack.rooms import CANCEL_LABEL, LOGS_LABEL
from adapters.slack.surface import SlackSurfaces, slack_call
from bot.approvals.card import BUTTON_ID, VERB_LABELS, button_id
from bot.jobs.room import JOB_BUTTON, JOB_VERBS, job_button_id
from bot.output.redact import clean
from bot.platform import RateGate, call_surface
from bot.session_key import SessionKey
from bot.store import redis_keys
from bot.turns.clicks import Refused, decide_click, modal_request
from bot.turns.inbox import (
    NO_BUDGETS,
    NO_JOBS,
    NOTHING_WAITING,
    ChannelBudget,
    Inbox,
    RunningJob,
    WaitingCall,
)
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

HOME_PREFIX = "home:"
HOME_ACTION = re.compile(f"^{HOME_PREFIX}{BUTTON_ID}$")
"""Approve and Reject in the Home tab: the card's button ids, prefixed."""
JOB_ACTION = re.compile(f"^{JOB_BUTTON}$")
OPEN_ACTION = re.compile(r"^mib:open:\d+$")
"""Open thread buttons: links, whose clicks Slack still sends (and wants acknowledged)."""
POLL_SECONDS = 2.0
VIEWER_SECONDS = 86_400
"""Homes opened within this long are redrawn when something changes."""
MAX_VIEWERS = 500
PUBLISH_INTERVAL = 0.6
"""views.publish is Tier 4 (100+ a minute per workspace): at most one call this often."""
ROUND_SECONDS = 60
CHANNELS_CACHE_SECONDS = 60.0
MAX_WAITING = 20
MAX_JOBS = 10
MAX_BUDGETS = 20
CONVERSATION_TYPES = "public_channel,private_channel,mpim,im"
TITLE = "ML intern"


class Memberships:
    """Which channels a person is a member of (``users.conversations``), cached for a while."""

    def __init__(self, client: Any, ttl: float = CHANNELS_CACHE_SECONDS) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def channels(self, user: str) -> frozenset[str]:
        expires, channels = self._cache.get(user, (0.0, frozenset()))
        if expires > time.monotonic():
            return channels
        found: set[str] = set()
        cursor = None
        try:
            while True:
                page = await self.client.users_conversations(
                    user=user,
                    types=CONVERSATION_TYPES,
                    exclude_archived=True,
                    limit=999,
                    cursor=cursor,
                )
                found.update(c["id"] for c in page.get("channels", []))
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as exc:
            logger.warning("the channels of %s: %s", user, failure(exc))
            return frozenset(found)
        channels = frozenset(found)
        self._cache[user] = (time.monotonic() + self.ttl, channels)
        return channels


# ── the view ─────────────────────────────────────────────────────────────


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _open(n: int, url: str | None) -> list[dict[str, Any]]:
    if not url:
        return []
    return [{**button("↗ Open thread", f"mib:open:{n}"), "url": url}]


def waiting_blocks(waiting: list[WaitingCall], links: dict[str, str], now: float) -> list[dict]:
    blocks: list[dict[str, Any]] = [header(f"Waiting for you ({len(waiting)})")]
    if not waiting:
        return [*blocks, context(NOTHING_WAITING)]
    for i, call in enumerate(waiting[:MAX_WAITING]):
        approval_id = call.record.approval_id
        blocks.append(section(clean(call.summary(now, escape))))
        if call.note:
            blocks.append(context(clean(call.note)))
        buttons = [
            button(
                VERB_LABELS[verb], HOME_PREFIX + button_id(verb, approval_id, call.n), style=style
            )
            for verb, style in (("approve", "primary"), ("reject", "danger"))
        ]
        blocks.append(actions(*buttons, *_open(i, links.get(call.session_key))))
    if len(waiting) > MAX_WAITING:
        blocks.append(context(f"…and {len(waiting) - MAX_WAITING} more, oldest first."))
    return blocks


def job_blocks(jobs: list[RunningJob], links: dict[str, str], now: datetime) -> list[dict]:
    blocks: list[dict[str, Any]] = [header(f"Running jobs ({len(jobs)})")]
    if not jobs:
        return [*blocks, context(NO_JOBS)]
    for i, job in enumerate(jobs[:MAX_JOBS]):
        job_id = job.record.job_id
        blocks.append(section(clean(job.summary(now))))
        buttons = [button(LOGS_LABEL, job_button_id("logs", job_id))]
        if job.may_cancel:
            buttons.append(button(CANCEL_LABEL, job_button_id("cancel", job_id), style="danger"))
        blocks.append(actions(*buttons, *_open(MAX_WAITING + i, links.get(job.session_key))))
    if len(jobs) > MAX_JOBS:
        blocks.append(context(f"…and {len(jobs) - MAX_JOBS} more."))
    return blocks


def budget_blocks(budgets: list[ChannelBudget]) -> list[dict]:
    lines = [budget.line for budget in budgets[:MAX_BUDGETS]] or [NO_BUDGETS]
    return [header("Auto-approve budgets"), section("\n".join(f"• {line}" for line in lines))]


def home_view(
    waiting: list[WaitingCall],
    jobs: list[RunningJob],
    budgets: list[ChannelBudget],
    links: dict[str, str],
    now: datetime,
    banner: str | None = None,
) -> dict[str, Any]:
    """The Home tab (at most 100 blocks: the lists are capped)."""
    blocks: list[dict[str, Any]] = [section(clean(banner))] if banner else []
    blocks += waiting_blocks(waiting, links, now.timestamp())
    blocks += [{"type": "divider"}, *job_blocks(jobs, links, now)]
    blocks += [{"type": "divider"}, *budget_blocks(budgets)]
    return {"type": "home", "blocks": blocks}


# ── publishing and clicks ────────────────────────────────────────────────


class AppHome:
    """The Home tab's listeners, and the task that redraws open Homes when the inbox changes."""

    def __init__(
        self,
        runner: TurnRunner,
        surfaces: SlackSurfaces,
        directory: GroupDirectory,
        *,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.runner = runner
        self.surfaces = surfaces
        self.client = surfaces.client
        self.directory = directory
        self.inbox = Inbox(runner)
        self.redis = runner.store.redis
        self.memberships = Memberships(self.client)
        self.poll = poll
        self.gate = RateGate(PUBLISH_INTERVAL)
        self._links: dict[str, str] = {}  # session key -> thread permalink (they never change)

    # ── listeners ────────────────────────────────────────────────────────

    async def on_opened(self, event: dict[str, Any], context: Any) -> None:
        """``app_home_opened``: remember the viewer, publish their Home."""
        if event.get("tab") != "home":
            return
        team, user = context.team_id, event["user"]
        await self.redis.zadd(redis_keys.HOME_VIEWERS, {f"{team}:{user}": time.time()})
        await self.publish(team, user)

    async def on_click(self, ack: AsyncAck, body: dict, action: dict) -> None:
        """Approve or Reject in the Home tab."""
        await ack()
        match = HOME_ACTION.match(action["action_id"])
        if match is None:
            return
        approval_id, n = match["id"], None if match["n"] == "all" else int(match["n"])
        actor = await self.directory.actor(body["user"])
        team = body["team"]["id"]
        if match["verb"] == "approve":
            click = await decide_click(self.runner, approval_id, n, actor, approved=True)
            await self.publish(team, actor.user_id, banner=click.refusal)
            return
        try:
            request = await modal_request(self.runner, "reject", approval_id, n, actor)
        except Refused as refused:
            await self.publish(team, actor.user_id, banner=str(refused))
            return
        what = request.what if request.n is None else f"`{request.what}`"
        view = modals.reject_modal(approval_id, request.n, what)
        try:
            await self.client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            logger.warning("the reject modal: %s", failure(exc))

    async def on_job_click(self, ack: AsyncAck, body: dict, action: dict) -> None:
        """Logs or Cancel, on a job card in a thread or in the Home tab."""
        await ack()
        match = JOB_ACTION.match(action["action_id"])
        if match is None:
            return
        actor = await self.directory.actor(body["user"])
        if JOB_VERBS[match["verb"]] == "logs":
            reply = await self.runner.jobs.logs(match["id"])
        else:
            _, reply = await self.runner.jobs.cancel(match["id"], actor)
        key = clicked_in(body)
        if key is None:  # in the Home tab
            await self.publish(body["team"]["id"], actor.user_id, banner=reply)
            return
        surface = self.surfaces(key)
        await call_surface(surface, surface.post_ephemeral, actor.user_id, reply)

    @staticmethod
    async def on_open(ack: AsyncAck) -> None:
        """An Open thread link: Slack opens it; the click only needs acknowledging."""
        await ack()

    # ── drawing ──────────────────────────────────────────────────────────

    async def publish(self, team: str, user: str, banner: str | None = None) -> None:
        """Draw ``user``'s Home as the store has it now."""
        actor = await self.directory.actor({"id": user})
        channels = await self.memberships.channels(user)

        def visible(key: str) -> bool:
            parsed = SessionKey.parse(key)
            return parsed.platform == "slack" and parsed.team == team and parsed.channel in channels

        waiting = await self.inbox.waiting_for(actor, visible)
        jobs = await self.inbox.jobs_for(actor, visible)
        budgets = await self.inbox.budgets_for(visible)
        keys = {c.session_key for c in waiting[:MAX_WAITING]} | {
            j.session_key for j in jobs[:MAX_JOBS]
        }
        links = {key: link for key in keys if (link := await self._link(key))}
        view = home_view(waiting, jobs, budgets, links, self.runner.jobs.clock(), banner)
        await self.gate.wait()
        try:
            await slack_call(self.client.views_publish, user_id=user, view=view)
        except SlackApiError as exc:
            logger.warning("the App Home of %s: %s", user, failure(exc))

    async def _link(self, key: str) -> str | None:
        """The permalink of a session's thread (asked once, then remembered)."""
        if key not in self._links:
            parsed = SessionKey.parse(key)
            try:
                answer = await self.client.chat_getPermalink(
                    channel=parsed.channel, message_ts=parsed.thread
                )
            except SlackApiError as exc:
                logger.info("the link to %s: %s", key, failure(exc))
                return None
            self._links[key] = answer["permalink"]
        return self._links[key]

    # ── redrawing when the inbox changes ─────────────────────────────────

    async def run(self) -> None:
        """Redraw recent viewers' Homes after each change (one process per change)."""
        seen = None
        while True:
            await asyncio.sleep(self.poll)
            try:
                version = await self.inbox.version()
                if version == seen:
                    continue
                seen = version
                if await self.redis.set(
                    redis_keys.home_round(version), 1, nx=True, ex=ROUND_SECONDS
                ):
                    await self.redraw()
            except Exception:  # a missed round is redrawn at the next change
                logger.exception("redrawing App Homes failed")

    async def redraw(self) -> None:
        """Publish the Home of everyone who opened it within :data:`VIEWER_SECONDS`."""
        since = time.time() - VIEWER_SECONDS
        await self.redis.zremrangebyscore(redis_keys.HOME_VIEWERS, 0, since)
        viewers = await self.redis.zrevrange(redis_keys.HOME_VIEWERS, 0, MAX_VIEWERS - 1)
        for viewer in viewers:
            team, user = viewer.decode().split(":", 1)
            await self.publish(team, user)
