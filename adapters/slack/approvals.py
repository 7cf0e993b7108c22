"""Approval clicks and modal submissions: who may decide, the runner's decision, the card."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import modals
from adapters.slack.errors import failure
from adapters.slack.files import shared_files
from adapters.slack.keys import session_key
from adapters.slack.surface import SlackSurfaces
from bot.approvals.actor import Actor
from bot.approvals.card import BUTTON_ID
from bot.approvals.scripts import UPLOAD_BYTES, NotAScript, uploaded_script
from bot.attachments.fetch import FetchFailed, fetch
from bot.platform import call_surface
from bot.turns.clicks import ModalRequest, Refused, decide_click, modal_request
from bot.turns.runner import TurnRunner

logger = logging.getLogger(__name__)

APPROVAL_ACTION = re.compile(f"^{BUTTON_ID}$")
NOT_TAKEN = "Nothing ran; the call still waits for a decision."
GROUP_CACHE_SECONDS = 300.0


class GroupDirectory:
    """Which of the ``APPROVERS`` Slack user groups a person is in, cached for a while."""

    def __init__(
        self, client: AsyncWebClient, approvers: frozenset[str], ttl: float = GROUP_CACHE_SECONDS
    ) -> None:
        self.client = client
        self.approvers = approvers
        self.ttl = ttl
        self._groups = sorted(a for a in approvers if a.startswith("S"))
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def actor(self, user: dict[str, Any]) -> Actor:
        """The person clicking, with their approver groups (looked up only when it matters)."""
        user_id = user["id"]
        name = user.get("username") or user.get("name") or ""
        if not self._groups or user_id in self.approvers:
            return Actor(user_id, name=name)
        groups = [g for g in self._groups if user_id in await self._members_of(g)]
        return Actor(user_id, frozenset(groups), name=name)

    async def _members_of(self, group: str) -> frozenset[str]:
        expires, members = self._members.get(group, (0.0, frozenset()))
        if expires > time.monotonic():
            return members
        try:
            response = await self.client.usergroups_users_list(usergroup=group)
            members = frozenset(response.get("users", []))
        except SlackApiError as exc:
            logger.warning("the members of %s: %s", group, failure(exc))
            return frozenset()
        self._members[group] = (time.monotonic() + self.ttl, members)
        return members


class Approvals:
    """The listeners for approval buttons and the Reject / Edit script modals."""

    def __init__(
        self,
        runner: TurnRunner,
        surfaces: SlackSurfaces,
        directory: GroupDirectory,
    ) -> None:
        self.runner = runner
        self.surfaces = surfaces
        self.directory = directory

    # ── listeners ────────────────────────────────────────────────────────

    async def on_click(self, ack: AsyncAck, body: dict, action: dict) -> None:
        await ack()
        match = APPROVAL_ACTION.match(action["action_id"])
        if match is None:
            return
        verb, approval_id = match["verb"], match["id"]
        n = None if match["n"] == "all" else int(match["n"])
        actor = await self.directory.actor(body["user"])
        where = clicked_in(body)
        if verb in ("approve", "extend"):
            await self._decide(approval_id, n, actor, where, approved=True, extend=verb == "extend")
            return
        try:
            view = self._modal(await modal_request(self.runner, verb, approval_id, n, actor))
        except Refused as refused:
            await self._tell(where, actor, str(refused))
            return
        try:
            await self.surfaces.client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            logger.warning("the %s modal: %s", verb, failure(exc))

    async def on_reject_submitted(self, ack: AsyncAck, body: dict, view: dict) -> None:
        await ack()
        await self._submitted(body, view, approved=False, feedback=modals.submitted_reason(view))

    async def on_edit_submitted(self, ack: AsyncAck, body: dict, view: dict) -> None:
        """Approve with the edited script: the uploaded file's content if one came (a file
        too big is refused in the modal itself), else the text inputs'."""
        file = modals.submitted_file(view)
        size = file.get("size") if file else None
        if isinstance(size, int) and size > UPLOAD_BYTES:
            problem = f"The file is {size:,} bytes; a script file may be {UPLOAD_BYTES:,} at most."
            await ack(response_action="errors", errors={modals.FILE_BLOCK: problem})
            return
        await ack()
        try:
            script = await self._script_file(file) if file else modals.submitted_script(view)
        except NotAScript as refused:
            actor = await self.directory.actor(body["user"])
            record = await self.runner.store.approval(modals.target_of(view).approval_id)
            where = record.session_key if record else None
            await self._tell(where, actor, f"{refused} {NOT_TAKEN}")
            return
        await self._submitted(body, view, approved=True, edited_script=script)

    async def _script_file(self, file: dict[str, Any]) -> str:
        """The text of a script file uploaded in the modal (fetched with the bot token);
        :class:`NotAScript` when it can't be read, isn't text or is too large."""
        shared = self.surfaces.with_access(shared_files([file])[0])

        async def read() -> bytes:
            fetched = await fetch(
                shared, max_bytes=UPLOAD_BYTES, session=self.surfaces.client.session
            )
            if isinstance(fetched, FetchFailed):
                logger.info("the uploaded script could not be read: %s", fetched.reason)
                raise NotAScript(f"I couldn't read `{shared.name}`.")
            return fetched.data

        return await uploaded_script(shared.name, shared.size or 0, read)

    async def _submitted(self, body: dict, view: dict, **decision: Any) -> None:
        """A modal's decision on the call (or calls) it was opened for."""
        target = modals.target_of(view)
        actor = await self.directory.actor(body["user"])
        await self._decide(target.approval_id, target.n, actor, None, **decision)

    # ── deciding ─────────────────────────────────────────────────────────

    async def _decide(
        self, approval_id: str, n: int | None, actor: Actor, where: str | None, **decision: Any
    ) -> None:
        """Record a decision on call ``n`` (None: every call left), update the card, explain a refusal."""
        click = await decide_click(self.runner, approval_id, n, actor, **decision)
        if click.refusal:
            await self._tell(
                click.record.session_key if click.record else where, actor, click.refusal
            )

    @staticmethod
    def _modal(request: ModalRequest) -> dict[str, Any]:
        """The Slack modal for a Reject or Edit script click."""
        approval_id = request.record.approval_id
        if request.script is None:
            what = request.what if request.n is None else f"`{request.what}`"
            return modals.reject_modal(approval_id, request.n, what)
        return modals.edit_modal(approval_id, request.n, request.what, request.script)

    # ── the card and replies ─────────────────────────────────────────────

    async def _tell(self, key: str | None, actor: Actor, text: str) -> None:
        """An ephemeral reply to ``actor`` in the thread of ``key``."""
        if key is None:
            logger.info("nowhere to tell %s: %s", actor.user_id, text)
            return
        surface = self.surfaces(key)
        await call_surface(surface, surface.post_ephemeral, actor.user_id, text)


def clicked_in(body: dict[str, Any]) -> str | None:
    """The session key of the thread a button was clicked in."""
    container = body.get("container", {})
    message = body.get("message", {})
    channel = container.get("channel_id")
    thread = container.get("thread_ts") or message.get("thread_ts") or message.get("ts")
    if not channel or not thread:
        return None
    return session_key(body["team"]["id"], {"channel": channel, "ts": thread})
