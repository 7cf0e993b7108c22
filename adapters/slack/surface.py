"""A Slack thread as a :class:`bot.platform.Surface`, natively streamed where Slack allows it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import cards
from adapters.slack.rooms import RoomMessages
from agent import events as ev
from bot.approvals.card import ApprovalCard
from bot.attachments import SharedFile
from bot.platform import (
    ChannelGates,
    RateGate,
    RateLimited,
    StreamClosed,
    StreamUnavailable,
)
from bot.session_key import SessionKey
from bot.settings import Settings
from bot.store.sessions import ApprovalRecord

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

MAX_CHARS = cards.SECTION_CHARS
"""One answer message is one section block: the renderer continues in a new message past it."""
DEFAULT_RETRY_AFTER = 1.0
REFUSALS = frozenset(
    {"unknown_method", "not_allowed", "not_allowed_token_type", "missing_scope", "not_enabled"}
)
"""chat.startStream errors that mean the workspace or app can't stream at all."""
STREAM_ENDED = frozenset({"message_not_in_streaming_state", "msg_too_long"})
"""chat.appendStream / stopStream errors: the stream is over (or the text too long for it)."""


async def slack_call(method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
    """One Web API call; a 429 becomes :class:`RateLimited` with Slack's Retry-After."""
    try:
        return await method(**kwargs)
    except SlackApiError as exc:
        if exc.response.status_code == 429:
            retry_after = exc.response.headers.get("Retry-After", DEFAULT_RETRY_AFTER)
            raise RateLimited(float(retry_after)) from exc
        raise


class SlackSurface(RoomMessages):
    """Messages in one thread: answers with a Stop button until final (then 👍 / 👎 under
    the turn's last one), lines, cards, notices."""

    max_chars = MAX_CHARS

    def __init__(self, client: AsyncWebClient, key: str, gate: RateGate) -> None:
        self.client = client
        self.key = key
        self.session = SessionKey.parse(key)
        self.gate = gate
        self._streamed: set[str] = set()  # messages streamed natively: markdown, not sections

    @property
    def channel(self) -> str:
        return self.session.channel

    async def _post(self, payload: dict[str, Any]) -> str:
        response = await slack_call(
            self.client.chat_postMessage,
            channel=self.channel,
            thread_ts=self.session.thread,
            **payload,
        )
        return response["ts"]

    async def update(self, ts: str, payload: dict[str, Any]) -> None:
        """Replace a message of this thread with a payload from :mod:`adapters.slack.cards`."""
        await slack_call(self.client.chat_update, channel=self.channel, ts=ts, **payload)

    async def post(self, text: str, *, final: bool = False) -> str:
        return await self._post(cards.answer(text, None if final else self.key))

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        await self.update(ref, cards.answer(text, None if final else self.key))

    async def final_answer(self, ref: str, text: str, turn_id: str) -> None:
        streamed = ref in self._streamed
        await self.update(ref, cards.final_answer(text, self.key, turn_id, streamed=streamed))

    async def post_line(self, ref: str | None, text: str) -> str:
        if ref is None:
            return await self._post(cards.line(text))
        await self.update(ref, cards.line(text))
        return ref

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        ts = await self._post(
            cards.approval_card(ApprovalCard.build(event.approval_id, event.tools))
        )
        return {"channel": self.channel, "ts": ts}

    async def attach_file(self, filename: str, content: bytes, title: str) -> None:
        """A file in the thread (a long tool output, an image)."""
        await slack_call(
            self.client.files_upload_v2,
            channel=self.channel,
            thread_ts=self.session.thread,
            file=content,
            filename=filename,
            title=title,
        )

    async def update_approval(self, record: ApprovalRecord) -> None:
        await self.update(record.platform_ref["ts"], cards.approval_card(ApprovalCard.of(record)))

    async def post_notice(self, text: str) -> None:
        await self._post(cards.notice(text))

    async def post_message(self, payload: dict[str, Any]) -> str:
        """A message of this thread from a Block Kit payload (e.g. a reply with a menu)."""
        return await self._post(payload)

    def with_access(self, file: SharedFile) -> SharedFile:
        """A file shared here, downloaded with the bot token (Slack's ``url_private``)."""
        token = self.client.token
        return replace(file, headers={"Authorization": f"Bearer {token}"}) if token else file

    async def post_ephemeral(self, user: str, text: str) -> None:
        """A reply in the thread only ``user`` sees."""
        await slack_call(
            self.client.chat_postEphemeral,
            channel=self.channel,
            thread_ts=self.session.thread,
            user=user,
            **cards.notice(text),
        )


class StreamingSlackSurface(SlackSurface):
    """Answers through chat.startStream / appendStream / stopStream (markdown as is).

    ``on_refused`` is called when Slack refuses to start a stream, so later
    turns use edits straight away.
    """

    stream_max_seconds = 180.0
    """Slack ends a stream about 5 minutes after it starts (sooner when idle): close it at 3."""
    stream_max_append = 12_000
    """``markdown_text`` characters one call takes; Slack answers ``msg_too_long`` past it."""

    def __init__(
        self,
        client: AsyncWebClient,
        key: str,
        gate: RateGate,
        *,
        recipient: str,
        on_refused: Callable[[], None],
    ) -> None:
        super().__init__(client, key, gate)
        self.recipient = recipient
        self.on_refused = on_refused

    async def stream_start(self, text: str) -> str:
        try:
            response = await slack_call(
                self.client.chat_startStream,
                channel=self.channel,
                thread_ts=self.session.thread,
                markdown_text=text,
                recipient_team_id=self.session.team,
                recipient_user_id=self.recipient,
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            logger.info("chat.startStream failed (%s): this turn uses edits", error)
            if error in REFUSALS:
                self.on_refused()
            raise StreamUnavailable(error) from exc
        self._streamed.add(response["ts"])
        return response["ts"]

    async def stream_append(self, ref: str, text: str) -> None:
        await self._in_stream(self.client.chat_appendStream, ts=ref, markdown_text=text)

    async def stream_stop(self, ref: str) -> None:
        await self._in_stream(self.client.chat_stopStream, ts=ref)

    async def _in_stream(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> None:
        """A call on an open stream; Slack saying the stream is over raises StreamClosed."""
        try:
            await slack_call(method, channel=self.channel, **kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in STREAM_ENDED:
                raise StreamClosed(error) from exc
            raise


class SlackSurfaces:
    """Builds the surface of a session; one rate gate per channel, shared by its threads."""

    def __init__(self, client: AsyncWebClient, *, interval: float, native_streaming: bool) -> None:
        self.client = client
        self.gates = ChannelGates(interval)
        self.native_streaming = native_streaming

    def __call__(self, key: str, ref: dict[str, Any] | None = None) -> SlackSurface:
        """The runner's surface factory; a turn started by a person may stream natively."""
        gate = self.gates(SessionKey.parse(key).channel)
        recipient = (ref or {}).get("user")
        if self.native_streaming and recipient:
            return StreamingSlackSurface(
                self.client, key, gate, recipient=recipient, on_refused=self._refused
            )
        return SlackSurface(self.client, key, gate)

    def _refused(self) -> None:
        self.native_streaming = False


def slack_surfaces(settings: Settings) -> SlackSurfaces:
    """The surfaces of the bot's Slack workspace, through the Web API at ``SLACK_API_URL``."""
    token = settings.slack_bot_token
    client = AsyncWebClient(
        token=token.get_secret_value() if token else None, base_url=settings.slack_api_url
    )
    return SlackSurfaces(
        client,
        interval=settings.slack_edit_interval_ms / 1000,
        native_streaming=settings.slack_native_streaming,
    )
