"""The Slack adapter: a Bolt app whose listeners hand Slack events to the runner.

HTTP mode mounts Bolt's endpoint at ``POST /slack/events`` on the bot's HTTP
server (Bolt verifies every request's signature and timestamp); Socket Mode
connects with ``SLACK_APP_TOKEN`` instead. Redelivered events (Slack's
retries) are dropped by event id, remembered in Redis.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from adapters.slack import modals
from adapters.slack.approvals import APPROVAL_ACTION, Approvals, GroupDirectory
from adapters.slack.assistant import build_assistant
from adapters.slack.cards import THUMBS_ID
from adapters.slack.conversations import Conversations
from adapters.slack.feedback import WENT_WRONG_CALLBACK, Feedback
from adapters.slack.home import HOME_ACTION, JOB_ACTION, OPEN_ACTION, AppHome
from adapters.slack.install import EVENTS_PATH
from adapters.slack.messages_tab import MessagesTab, on_messages_tab
from adapters.slack.models import MODEL_ACTION
from adapters.slack.surface import SlackSurfaces, slack_surfaces
from bot.output.views import STOP_ID
from bot.store import redis_keys
from bot.store.sessions import SessionStore

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

HANDLED_MESSAGES = {"type": "message", "subtype": (None, "file_share")}
"""New messages and file shares; edits, deletions and other subtypes are only acknowledged."""


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value else None


def dedupe(store: SessionStore):
    """Global middleware: an event Slack delivers again (a retry) is acknowledged, not rerun."""

    async def middleware(body: dict[str, Any], next: Any) -> BoltResponse | None:
        event_id = body.get("event_id")
        if event_id and not await store.first_seen(redis_keys.platform_event("slack", event_id)):
            logger.info("dropping redelivered Slack event %s", event_id)
            return BoltResponse(status=200, body="")
        return await next()

    return middleware


class SlackFrontEnd:
    """Builds the Bolt app on a runtime; ``mount`` adds its HTTP route, ``run`` its connection."""

    def __init__(self, rt: Runtime) -> None:
        settings = rt.settings
        self.app_token = _secret(settings.slack_app_token)
        signing_secret = _secret(settings.slack_signing_secret)
        known = rt.runner.surfaces.get("slack")  # one Web API client per runtime
        self.surfaces = known if isinstance(known, SlackSurfaces) else slack_surfaces(settings)
        self.client = self.surfaces.client
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "",
            request_verification_enabled=signing_secret is not None,
        )
        rt.runner.surfaces["slack"] = self.surfaces
        directory = GroupDirectory(self.client, rt.runner.controls.rules.named())
        split = settings.slack_assistant_view == "split"
        tab = None if split else MessagesTab(self.client, rt.store.redis, settings)
        conversations = Conversations(
            rt.runner,
            self.surfaces,
            directory,
            replies_without_mention=settings.slack_thread_replies_without_mention,
            tab=tab,
        )
        approvals = Approvals(rt.runner, self.surfaces, directory)
        self.home = AppHome(rt.runner, self.surfaces, directory)
        feedback = Feedback(rt.runner, self.surfaces)
        app = self.app
        app.use(dedupe(rt.ack_store))
        if tab is None:
            app.use(build_assistant(conversations, settings, rt.store))
        else:
            app.event("app_home_opened", matchers=[on_messages_tab])(tab.on_opened)
            app.event("app_context_changed")(tab.on_context_changed)
        app.event("app_mention")(conversations.on_mention)
        app.event(HANDLED_MESSAGES)(conversations.on_message)
        app.event("message")(conversations.on_ignored)
        app.action(STOP_ID)(conversations.on_stop)
        app.event("agent_session_stopped")(conversations.on_session_stopped)
        app.action(MODEL_ACTION)(conversations.models.on_select)
        app.action(APPROVAL_ACTION)(approvals.on_click)
        app.event("app_home_opened")(self.home.on_opened)
        app.action(HOME_ACTION)(self.home.on_click)
        app.action(JOB_ACTION)(self.home.on_job_click)
        app.action(OPEN_ACTION)(self.home.on_open)
        app.view(modals.REJECT_CALLBACK)(approvals.on_reject_submitted)
        app.view(modals.EDIT_CALLBACK)(approvals.on_edit_submitted)
        app.action(THUMBS_ID)(feedback.on_click)
        app.view(WENT_WRONG_CALLBACK)(feedback.on_submitted)

    def mount(self, http: web.Application) -> None:
        http.router.add_post(EVENTS_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """One HTTP request from Slack through Bolt (signature checked there)."""
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:  # Bolt parses the body first: JSON that isn't, a payload that isn't
            logger.warning("refused a malformed request to %s", EVENTS_PATH)
            return web.Response(status=400, text="malformed request body")
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    async def run(self) -> None:
        """Socket Mode when ``SLACK_APP_TOKEN`` is set; else HTTP, served by the bot's server.
        App Homes are redrawn meanwhile when the inbox changes."""
        homes = asyncio.create_task(self.home.run(), name="App Home redraws")
        try:
            await self._connect()
        finally:
            homes.cancel()

    async def _connect(self) -> None:
        if not self.app_token:
            await asyncio.Event().wait()
            return
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.app, self.app_token)
        try:
            await handler.start_async()
        finally:
            await handler.close_async()
