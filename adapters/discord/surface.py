"""A Discord thread (or DM) as a :class:`bot.platform.Surface`, written with the bot token.

Every message call goes to the channel with the bot's own token, never an
interaction token (those expire after 15 minutes), so long turns keep updating.
discord.py waits out a 429 itself (its ``retry_after``); only a wait longer than
its ``max_ratelimit_timeout`` reaches the renderer, as :class:`RateLimited`.

Beyond the :class:`~bot.platform.Surface` calls it shows a typing indicator while
the model thinks (no placeholder message), draws a turn's tool lines in one steps
embed, and puts 👍 / 👎 under a turn's final answer.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import discord

from adapters.discord import cards
from adapters.discord.endpoints import point_at
from adapters.discord.errors import failure
from adapters.discord.keys import parse_key
from adapters.discord.rooms import ApproverDMs, RoomMessages
from agent import events as ev
from bot.approvals.card import ApprovalCard
from bot.output.views import STOP_ID
from bot.platform import ChannelGates, PlatformUnavailable, RateGate, RateLimited, Written
from bot.settings import Settings
from bot.store.approvals import ApprovalRecord

if TYPE_CHECKING:
    pass

MAX_CHARS = 2000
"""Discord's message length: the renderer continues in a new message past it."""
TYPING_SECONDS = 8.0
"""A typing indicator lasts 10 s (or until the bot sends a message): repeat it sooner."""
HISTORY_LIMIT = 100
"""Messages read back at most after a takeover (one ``GET /channels/{id}/messages``)."""

RETRIED_BY_DISCORD_PY = frozenset({500, 502, 504, 524})
"""5xx answers discord.py retries itself, for about 25 s: past them the call has failed."""

T = TypeVar("T")


async def discord_call(call: Awaitable[T]) -> T:
    """One REST call; a rate limit discord.py gave up waiting on becomes :class:`RateLimited`,
    a 5xx it did not retry itself (a 503) :class:`PlatformUnavailable`."""
    try:
        return await call
    except discord.RateLimited as exc:
        raise RateLimited(exc.retry_after) from exc
    except discord.DiscordServerError as exc:
        if exc.status in RETRIED_BY_DISCORD_PY:
            raise
        raise PlatformUnavailable(failure(exc)) from exc
    except discord.HTTPException as exc:
        if exc.status == 429:
            raise RateLimited(float(exc.response.headers.get("Retry-After", 1.0))) from exc
        raise


class DiscordSurface(RoomMessages):
    """Messages in one session's channel: answers with a Stop button until final, the steps
    embed, cards; the typing indicator."""

    max_chars = MAX_CHARS
    typing_seconds = TYPING_SECONDS

    def __init__(self, client: discord.Client, key: str, gate: RateGate) -> None:
        self.client = client
        self.key = key
        self.gate = gate
        self.channel = client.get_partial_messageable(parse_key(key).channel_id)

    async def _send(self, **payload: Any) -> str:
        message = await discord_call(self.channel.send(**payload))
        return str(message.id)

    async def update(self, ref: str, **payload: Any) -> None:
        """Edit a message of this channel (content, embeds, view)."""
        await discord_call(self.channel.get_partial_message(int(ref)).edit(**payload))

    async def post(self, text: str, *, final: bool = False) -> str:
        return await self._send(content=text, view=None if final else cards.stop_view())

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        await self.update(ref, content=text, view=None if final else cards.stop_view())

    async def delete(self, ref: str) -> None:
        """A placeholder no answer took, what a dead worker's turn left."""
        await discord_call(self.channel.get_partial_message(int(ref)).delete())

    async def post_line(self, ref: str | None, text: str) -> str:
        if ref is None:
            return await self._send(content=text)
        await self.update(ref, content=text)
        return ref

    async def post_steps(self, ref: str | None, lines: list[str], *, final: bool) -> str:
        payload = cards.steps(lines, final=final)
        if ref is None:
            return await self._send(**payload)
        await self.update(ref, **payload)
        return ref

    async def typing(self) -> None:
        """``POST /channels/{id}/typing``: "ml-intern is typing…" for about 10 seconds."""
        await discord_call(self.channel.typing())

    async def final_answer(self, ref: str, text: str, turn_id: str) -> None:
        await self.update(ref, view=cards.feedback_view(turn_id))

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        message_id = await self._send(
            **cards.approval_card(ApprovalCard.build(event.approval_id, event.tools))
        )
        return {"channel_id": str(self.channel.id), "message_id": message_id}

    async def update_card(self, ref: str, view: discord.ui.LayoutView, **files: Any) -> None:
        """Redraw a Components V2 card. Content and embeds are reset, as Discord requires to
        upgrade a card drawn before V2 (on a V2 card there are none)."""
        await self.update(ref, content=None, embeds=[], view=view, **files)

    async def update_approval(self, record: ApprovalRecord) -> None:
        """The card drawn again; its script files are sent again with it (an edit replaces them)."""
        card = cards.approval_card(ApprovalCard.of(record))
        await self.update_card(
            record.platform_ref["message_id"], card["view"], attachments=card["files"]
        )

    async def attach_file(self, filename: str, content: bytes, title: str) -> None:
        """A file in the thread (a long tool output); an image is shown in a media gallery."""
        upload = discord.File(io.BytesIO(content), filename)
        if filename.endswith(cards.IMAGES):
            await self._send(view=cards.image_card(title, filename), file=upload)
            return
        await discord_call(self.channel.send(content=title[:MAX_CHARS], file=upload))

    async def post_notice(self, text: str) -> None:
        await self._send(content=text[:MAX_CHARS])

    async def written_since(self, since: float) -> list[Written]:
        """The bot's answer messages still carrying the Stop button, made since ``since``
        (``GET /channels/{id}/messages?after=``; a :class:`bot.platform.ThreadHistory`)."""
        after = datetime.fromtimestamp(since - 0.001, UTC)  # ``after`` skips its millisecond
        history = self.channel.history(limit=HISTORY_LIMIT, after=after, oldest_first=True)
        me = self.client.user
        return [
            Written(str(message.id), message.content)
            async for message in history
            if me is not None and message.author.id == me.id and message.content and stops(message)
        ]


def stops(message: discord.Message) -> bool:
    """The message carries the Stop button (an answer being written)."""
    return any(
        getattr(item, "custom_id", None) == STOP_ID
        for row in message.components
        for item in getattr(row, "children", ())
    )


class DMingDiscordSurface(ApproverDMs, DiscordSurface):
    """A thread whose approvals are also sent to approvers by DM (``DISCORD_DM_APPROVERS``)."""


class DiscordSurfaces:
    """The runner's surface factory; one rate gate per channel, shared by its turns."""

    def __init__(
        self, client: discord.Client, *, interval: float, dm_approvers: bool = False
    ) -> None:
        self.client = client
        self.gates = ChannelGates(interval)
        self.kind = DMingDiscordSurface if dm_approvers else DiscordSurface

    def __call__(self, key: str, ref: dict[str, Any] | None = None) -> DiscordSurface:
        return self.kind(self.client, key, self.gates(parse_key(key).channel_id))


async def rest_client(settings: Settings) -> discord.Client:
    """A client logged in over REST only (no gateway), at ``DISCORD_API_URL``."""
    assert settings.discord_bot_token is not None
    point_at(settings)
    client = discord.Client(
        intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none()
    )
    await client.login(settings.discord_bot_token.get_secret_value())
    return client
