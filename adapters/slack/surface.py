"""A Slack thread as a :class:`bot.platform.Surface`, natively streamed where Slack allows it.

Every Web API call waits in the workspace's rate budget (:mod:`adapters.slack.budget`).
While a turn works, the thread shows Slack's assistant thread status
(``assistant.threads.setStatus``, the ``assistant:write`` scope) rather than a
placeholder message; where Slack refuses it, the turn posts the placeholder.

Natively streamed answers (chat.startStream / appendStream / stopStream) carry the
turn's tool calls as task cards (``task_update`` chunks) and the plan tool's to-do list
as a plan (a ``plan_update`` chunk titling its items' task cards), shown with
``task_display_mode`` ``plan`` (see :data:`TASK_DISPLAY_MODE`). A stream holds no
buttons: while one is written, a small message below it carries the Stop button, and
is deleted when the turn ends or waits. An approval card is a message of its own: the
renderer shows its calls as pending tasks, stops the stream, posts the card, and the
turn resumed after the decision streams on in a new message below the card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks.block_elements import UrlSourceElement
from slack_sdk.models.messages.chunk import (
    Chunk,
    MarkdownTextChunk,
    PlanUpdateChunk,
    TaskUpdateChunk,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import cards
from adapters.slack.budget import POST, ThreadGate, WorkspaceBudget
from adapters.slack.errors import failure
from adapters.slack.files import with_token
from adapters.slack.rooms import RoomMessages
from adapters.slack.sessions import ACTIVE, CLOSED, PROCESSING, SUSPENDED, AgentSessions
from agent import events as ev
from bot.approvals.card import ApprovalCard
from bot.approvals.controls import decision_summary
from bot.attachments import SharedFile
from bot.platform import (
    PlatformUnavailable,
    RateLimited,
    StatusUnavailable,
    Step,
    StreamClosed,
    StreamUnavailable,
    Written,
)
from bot.session_key import SessionKey
from bot.settings import Settings
from bot.store.approvals import ApprovalRecord

logger = logging.getLogger(__name__)

MAX_CHARS = cards.SECTION_CHARS
"""One answer message is one section block: the renderer continues in a new message past it."""
RECEIVED_REACTION = "eyes"
"""The reaction a person's message gets when its turn starts."""
REPLIES_PAGE = 200
"""Messages one ``conversations.replies`` call asks for."""
REFUSALS = frozenset(
    {
        "unknown_method",
        "not_allowed",
        "not_allowed_token_type",
        "missing_scope",
        "not_enabled",
        "feature_not_enabled",
    }
)
"""Errors that mean the workspace or app can't use a method at all (stream, status)."""
STREAM_ENDED = frozenset({"message_not_in_streaming_state", "msg_too_long"})
"""chat.appendStream / stopStream errors: the stream is over (or the text too long for it)."""
TASK_DISPLAY_MODE = "plan"
"""Task cards together in one plan block beside the answer, not ``timeline`` (a card
between paragraphs): an ML turn makes many tool calls (search, read, run, watch), and
they read best as one checklist of steps while the answer reads as prose."""
WRITING_STATUS = "is writing the answer…"
"""The thread's status while an answer is written to be shown whole (a busy workspace)."""
LATER = "later:"
"""The ref of an answer, or a placeholder, not posted yet (shown whole when done)."""
TASK_STATUS = {"pending": "pending", "running": "in_progress", "done": "complete"}
"""A step's state as a task card's status (anything else is ``error``)."""


def task_chunk(step: Step) -> TaskUpdateChunk:
    return TaskUpdateChunk(
        id=step.id,
        title=step.title,
        status=TASK_STATUS.get(step.state, "error"),
        output=step.output or None,
        details=step.details or None,
        sources=[UrlSourceElement(url=url, text=label) for url, label in step.sources] or None,
    )


async def slack_call(method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
    """One Web API call outside a thread's budget (App Home, DMs); a 429 becomes
    :class:`RateLimited` with Slack's Retry-After."""
    try:
        return await method(**kwargs)
    except SlackApiError as exc:
        if (failed := failure(exc)).status == 429:
            raise RateLimited(failed.retry_after) from exc
        raise


class StatusPermit:
    """Whether Slack lets the app set thread statuses, learnt from its first refusal
    (said once in the log): after it, threads get a placeholder without asking again."""

    def __init__(self) -> None:
        self.works = True

    def refused(self, error: str) -> bool:
        """Slack answered ``error``: True when it means never."""
        if error not in REFUSALS:
            logger.info("assistant.threads.setStatus failed (%s): a placeholder this turn", error)
            return False
        if self.works:
            logger.warning(
                "Slack refused the thread status (%s): threads show a 'thinking…' placeholder "
                "instead; give the app the assistant:write scope (`ml-intern-bot manifest`)",
                error,
            )
        self.works = False
        return True


def decided_task(task: dict[str, Any], record: ApprovalRecord) -> dict[str, Any]:
    """A task card (a ``task_update`` chunk) as ``record``'s outcome shows it: a decided
    call complete (approved) or error (rejected), an undecided one of a closed approval
    error with why (expired, abandoned)."""
    if decision := record.decisions.get(task["id"]):
        status = "complete" if decision.get("approved") else "error"
        return {**task, "status": status, "output": decision_summary(decision)}
    waiting = any(t["tool_call_id"] == task["id"] for t in record.tools)
    if waiting and record.status != "open":
        return {**task, "status": "error", "output": record.status}
    return task


class SlackSurface(RoomMessages):
    """Messages in one thread: answers with a Stop button until final (then 👍 / 👎 under
    the turn's last one), lines, cards, notices; the thread's status while a turn works,
    and its agent session's (:mod:`adapters.slack.sessions`) where the workspace has them."""

    max_chars = MAX_CHARS
    status_refresh_seconds = 90.0
    """Slack drops a thread status after about 2 minutes without a refresh."""

    def __init__(
        self,
        client: AsyncWebClient,
        key: str,
        budget: WorkspaceBudget,
        *,
        interval: float,
        permit: StatusPermit,
        sessions: AgentSessions,
        ref: dict[str, Any] | None = None,
    ) -> None:
        ref = ref or {}
        self.client = client
        self.key = key
        self.session = SessionKey.parse(key)
        self.budget = budget
        self.gate = ThreadGate(budget, self.channel, key, interval)
        self.permit = permit
        self.sessions = sessions
        self.title: str | None = ref.get("title")
        self._status = ""  # the status this surface set and has not cleared
        self._wanted: tuple[str, list[str]] = ("", [])  # the last status asked for
        self._later: dict[str, str] = {}  # answers to be posted whole when done: their text
        self._posted: dict[str, str] = {}  # such an answer's ref -> its message, once posted
        self._session_status = ""  # the agent session status this surface set last
        self._waits = False  # an approval card was posted: the turn waits for it
        self._streamed: set[str] = set()  # messages streamed natively: markdown, not sections
        if (placeholder := ref.get("placeholder")) and placeholder.startswith(LATER):
            self._later[placeholder] = ref.get("thinking", "")  # none was posted: see post
            self.gate.show_whole()

    @property
    def channel(self) -> str:
        return self.session.channel

    async def call(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """One Web API call in its turn of the workspace budget; a 429 blocks the method
        for every thread and becomes :class:`RateLimited` with Slack's Retry-After, a 5xx
        :class:`PlatformUnavailable`."""
        name = method.__name__.replace("_", ".")
        await self.budget.acquire(name, self.channel, self.key)
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            failed = failure(exc)
            if failed.status == 429:
                self.budget.penalize(name, self.channel, failed.retry_after)
                raise RateLimited(failed.retry_after) from exc
            if failed.server_side:
                raise PlatformUnavailable(str(failed)) from exc
            raise

    async def call_now(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> bool:
        """An optional call (a mark, a status, 👍 / 👎), made only if its method has a slot
        of the workspace budget free now: False, and nothing called, else. A busy
        workspace never holds a turn up for a nicety."""
        if not self.budget.take_now(method.__name__.replace("_", "."), self.channel, self.key):
            return False
        await self.call(method, **kwargs)
        return True

    async def _post(self, payload: dict[str, Any]) -> str:
        response = await self.call(
            self.client.chat_postMessage,
            channel=self.channel,
            thread_ts=self.session.thread,
            **payload,
        )
        self._status = ""  # Slack clears a thread's status when the app replies in it
        return response["ts"]

    async def update(self, ts: str, payload: dict[str, Any]) -> None:
        """Replace a message of this thread with a payload from :mod:`adapters.slack.cards`."""
        await self.call(self.client.chat_update, channel=self.channel, ts=ts, **payload)

    async def post(self, text: str, *, final: bool = False) -> str:
        """A new answer message (or the placeholder, before any text). When the workspace's
        ``chat.update`` budget had no room at the answer's first text write, the answer is
        kept to be posted whole when done (one call), the thread's status saying the bot
        writes meanwhile where it has a slot now; a placeholder it took is edited once, at
        the end, in a ``chat.update`` slot it took when posted. Without one free then, no
        placeholder is posted: the answer is shown whole when done."""
        if not final and self.gate.writing and self.gate.whole():
            ref = self._later_ref(text)
            with contextlib.suppress(StatusUnavailable):
                await self.set_status(WRITING_STATUS)
            return ref
        placeholder = not final and not self.gate.writing
        if placeholder and not self.budget.take_now("chat.update", self.channel, self.key):
            self.gate.show_whole()
            return self._later_ref(text)
        return await self._post(cards.answer(text, None if final else self.key))

    def _later_ref(self, text: str) -> str:
        """The ref of ``text``, to be posted whole when done."""
        ref = f"{LATER}{len(self._later) + len(self._posted)}"
        self._later[ref] = text
        return ref

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        if ref.startswith(LATER) and ref not in self._posted:
            self._later[ref] = text  # a ref another surface of the turn kept, too
            if final:
                self._posted[ref] = await self._post(cards.answer(text, None))
                del self._later[ref]
            return
        if not final and self.gate.whole():
            return  # shown whole when done (a busy workspace): the placeholder says it works
        ref = self._posted.get(ref, ref)
        await self.update(ref, cards.answer(text, None if final else self.key))

    async def delete(self, ref: str) -> None:
        """chat.delete: a placeholder no answer took, what a dead worker's turn left."""
        self._later.pop(ref, None)
        if not ref.startswith(LATER) or ref in self._posted:
            ref = self._posted.get(ref, ref)
            await self.call(self.client.chat_delete, channel=self.channel, ts=ref)

    async def final_answer(self, ref: str, text: str, turn_id: str) -> None:
        """👍 / 👎 under the answer, if ``chat.update`` has a slot now: in a busy workspace
        the turn doesn't wait for a nicety."""
        payload = cards.final_answer(text, self.key, turn_id, streamed=ref in self._streamed)
        await self.call_now(
            self.client.chat_update, channel=self.channel, ts=self._posted.get(ref, ref), **payload
        )

    async def post_line(self, ref: str | None, text: str) -> str:
        """A tool call's line; the status it cleared (Slack clears it at any reply) is
        shown again where it has a slot now: the work goes on."""
        if ref is None:
            status, loading = self._wanted
            line = await self._post(cards.line(text))
            if status:
                with contextlib.suppress(StatusUnavailable):
                    await self.set_status(status, loading)
            return line
        await self.update(ref, cards.line(text))
        return ref

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        self._waits = True
        ts = await self._post(
            cards.approval_card(ApprovalCard.build(event.approval_id, event.tools))
        )
        return {"channel": self.channel, "ts": ts}

    async def attach_file(self, filename: str, content: bytes, title: str) -> None:
        """A file in the thread (a long tool output, an image)."""
        await self.call(
            self.client.files_upload_v2,
            channel=self.channel,
            thread_ts=self.session.thread,
            file=content,
            filename=filename,
            title=title,
        )

    async def update_approval(self, record: ApprovalRecord) -> None:
        """Redraw the card; once its calls are decided (or it closed), the stream above it
        shows their outcome on their task cards too."""
        await self.update(record.platform_ref["ts"], cards.approval_card(ApprovalCard.of(record)))
        stream = record.platform_ref.get("stream")
        if stream and (record.decisions or record.status != "open"):
            tasks = [decided_task(task, record) for task in stream["tasks"]]
            await self.update(stream["ts"], cards.rewritten_stream(stream["text"], tasks))

    async def post_notice(self, text: str) -> None:
        await self._post(cards.notice(text))

    async def post_message(self, payload: dict[str, Any]) -> str:
        """A message of this thread from a Block Kit payload (e.g. a reply with a menu)."""
        return await self._post(payload)

    def with_access(self, file: SharedFile) -> SharedFile:
        """A file shared here, downloaded with the bot token (Slack's ``url_private``)."""
        return with_token(self.client, file)

    async def mark_received(self, message: str) -> None:
        """The person's message ``message`` (its ts) gets 👀 (a :class:`bot.platform.Receipts`)
        if ``reactions.add`` has a slot now."""
        try:
            await self.call_now(
                self.client.reactions_add,
                channel=self.channel,
                timestamp=message,
                name=RECEIVED_REACTION,
            )
        except SlackApiError as exc:  # e.g. already_reacted: a nicety, never a failure
            logger.info("marking a message received failed: %s", failure(exc))

    async def written_since(self, since: float) -> list[Written]:
        """The bot's messages of this thread made since ``since`` that may hold an answer's
        text, or are Stop controls, from ``conversations.replies`` (a
        :class:`bot.platform.ThreadHistory`)."""
        me = (await self.call(self.client.auth_test))["user_id"]
        found: list[Written] = []
        cursor = None
        while True:
            page = await self.call(
                self.client.conversations_replies,
                channel=self.channel,
                ts=self.session.thread,
                oldest=f"{since:.6f}",
                inclusive=True,
                limit=REPLIES_PAGE,
                cursor=cursor,
            )
            for message in page.get("messages", []):
                mine = message.get("user") == me and message.get("ts") != self.session.thread
                if mine and (seen := cards.written(message)):
                    found.append(seen)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    async def post_ephemeral(self, user: str, text: str) -> None:
        """A reply in the thread only ``user`` sees."""
        await self.call(
            self.client.chat_postEphemeral,
            channel=self.channel,
            thread_ts=self.session.thread,
            user=user,
            **cards.notice(text),
        )

    # ── the thread's agent session ───────────────────────────────────────

    async def session_status(self, status: str) -> bool:
        """Set the thread's agent session ``status`` (``processing`` with the turn's title);
        False where the workspace has no agent sessions, or not now. ``processing`` is
        set only with a slot free now; a session shown so then waits for its next status
        (it would spin with Slack's Stop button else)."""
        team = self.session.team
        if not self.sessions.available(team):
            return False
        call = self.call_now if status == PROCESSING else self.call
        try:
            made = await call(
                self.client.agents_sessions_setStatus,
                channel_id=self.channel,
                thread_ts=self.session.thread,
                status=status,
                title=self.title if status == PROCESSING else None,
            )
        except SlackApiError as exc:
            self.sessions.refused(team, str(exc.response.get("error")))
            return False
        if made is False:
            return False
        self._session_status = status
        return True

    @property
    def in_session(self) -> bool:
        """Whether Slack shows this turn as ``processing`` (with Slack's own Stop button)."""
        return self._session_status == PROCESSING

    async def close_session(self) -> None:
        """The thread's agent session is over: ``new``, or the session expired
        (:class:`bot.platform.PlatformSessions`)."""
        await self.session_status(CLOSED)

    # ── the thread's status (WorkingStatus) ──────────────────────────────

    async def set_status(
        self, text: str, loading: Sequence[str] = (), *, wait: float | None = None
    ) -> None:
        """Show ``text`` after the app's name under the thread (empty: none); the first
        one of a turn also marks its agent session ``processing``. A status is a nicety:
        it is set only with a slot of the workspace budget free now, never waited for
        (whatever ``wait`` allows)."""
        if text and not self.in_session:
            await self.session_status(PROCESSING)
        if not self.permit.works:
            raise StatusUnavailable("refused before", lasting=True)
        if not text and self._later:
            text = WRITING_STATUS  # the answer is written, to be shown whole
        if not text and not self._status:
            return  # nothing of ours is shown (a reply cleared it)
        self._wanted = (text, list(loading))
        try:
            made = await self.call_now(
                self.client.assistant_threads_setStatus,
                channel_id=self.channel,
                thread_ts=self.session.thread,
                status=text,
                loading_messages=list(loading) or None,
            )
        except SlackApiError as exc:
            error = failure(exc).reason
            raise StatusUnavailable(error, lasting=self.permit.refused(error)) from exc
        if not made:
            raise StatusUnavailable("the rate budget is busy")
        self._status = text

    async def clear_status(self) -> None:
        """The turn ended or waits: its agent session is ``active`` or ``suspended``."""
        if self.in_session:
            await self.session_status(SUSPENDED if self._waits else ACTIVE)
        if self._status:  # if it can't be cleared now, Slack drops it within minutes
            with contextlib.suppress(StatusUnavailable):
                await self.set_status("")


class StreamingSlackSurface(SlackSurface):
    """Answers through chat.startStream / appendStream / stopStream, as markdown chunks,
    with the turn's steps as task cards (a :class:`bot.platform.StreamSteps`).

    ``on_refused`` is called when Slack refuses to start a stream, so later turns use
    edits straight away. With ``stop_control`` (no placeholder carries a Stop button),
    a message with one is posted below the first stream and deleted by ``clear_status``,
    unless Slack shows its own beside the agent session.
    """

    stream_max_seconds = 180.0
    """Slack ends a stream about 5 minutes after it starts (sooner when idle): close it at 3."""
    stream_max_append = 12_000
    """``markdown_text`` characters one call takes; Slack answers ``msg_too_long`` past it."""

    def __init__(
        self,
        client: AsyncWebClient,
        key: str,
        budget: WorkspaceBudget,
        *,
        interval: float,
        recipient: str,
        on_refused: Callable[[], None],
        stop_control: bool,
        permit: StatusPermit,
        sessions: AgentSessions,
        ref: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            client, key, budget, interval=interval, permit=permit, sessions=sessions, ref=ref
        )
        self.recipient = recipient
        self.on_refused = on_refused
        self.shows_stop = stop_control
        self.stop_control: str | None = None
        """The message carrying the Stop button below the stream, while shown."""
        self._stopper: asyncio.Task[None] | None = None  # posts the Stop message
        self._stop_posting = False
        self._shown: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {}
        """Each stream of this turn: its text and its task cards (by id), as shown."""
        self._last_stream: str | None = None

    async def stream_start(self, text: str) -> str:
        return await self._start([MarkdownTextChunk(text=text)])

    async def stream_append(self, ref: str, text: str) -> None:
        chunks: list[Chunk] = [MarkdownTextChunk(text=text)]
        await self._in_stream(self.client.chat_appendStream, ts=ref, chunks=chunks)
        self._keep(ref, chunks)

    async def stream_stop(self, ref: str) -> None:
        await self._in_stream(self.client.chat_stopStream, ts=ref)

    async def stream_steps(
        self, ref: str | None, steps: Sequence[Step], plan: str | None = None
    ) -> str:
        chunks: list[Chunk] = [PlanUpdateChunk(title=plan)] if plan else []
        chunks += [task_chunk(step) for step in steps]
        if ref is None:
            return await self._start(chunks)
        await self._in_stream(self.client.chat_appendStream, ts=ref, chunks=chunks)
        self._keep(ref, chunks)
        return ref

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        """The card, and what the stream above it shows, so a decision redraws that too."""
        ref = await super().post_approval(event)
        if self._last_stream is not None:
            text, tasks = self._shown[self._last_stream]
            ref["stream"] = {"ts": self._last_stream, "text": text, "tasks": list(tasks.values())}
        return ref

    def _keep(self, ts: str, chunks: Sequence[Chunk]) -> None:
        """Remember what stream ``ts`` shows after ``chunks``."""
        text, tasks = self._shown.get(ts, ("", {}))
        for chunk in chunks:
            if isinstance(chunk, MarkdownTextChunk):
                text += chunk.text
            elif isinstance(chunk, TaskUpdateChunk):
                tasks[chunk.id] = {**tasks.get(chunk.id, {}), **chunk.to_dict()}
        self._shown[ts] = (text, tasks)
        self._last_stream = ts

    async def clear_status(self) -> None:
        await super().clear_status()
        if self._stopper is not None:
            stopper, self._stopper = self._stopper, None
            if not self._stop_posting:
                stopper.cancel()
            await asyncio.wait([stopper])
        if self.stop_control is not None:
            stop_ts, self.stop_control = self.stop_control, None
            await self.delete(stop_ts)

    async def _start(self, chunks: list[Chunk]) -> str:
        if not self.budget.take_now("chat.startStream", self.channel, self.key):
            raise StreamUnavailable("the workspace's chat.startStream budget is spent")
        try:
            response = await self.call(
                self.client.chat_startStream,
                channel=self.channel,
                thread_ts=self.session.thread,
                chunks=chunks,
                task_display_mode=TASK_DISPLAY_MODE,
                recipient_team_id=self.session.team,
                recipient_user_id=self.recipient,
            )
        except SlackApiError as exc:
            failed = failure(exc)
            logger.info("%s: this turn uses edits", failed)
            if failed.error in REFUSALS:
                self.on_refused()
            raise StreamUnavailable(failed.reason) from exc
        self._streamed.add(response["ts"])
        self._keep(response["ts"], chunks)
        self._status = ""  # a new message in the thread: Slack cleared the status
        if self.shows_stop and self.stop_control is None and self._stopper is None:
            if self.in_session:
                pass  # Slack shows its own Stop button
            elif self.budget.take_now(POST, self.channel, self.key):
                self.stop_control = await self._post(cards.stop_control(self.key))
            else:  # the channel's posts are busy: answers first
                self._stopper = asyncio.create_task(self._show_stop())
        return response["ts"]

    async def _show_stop(self) -> None:
        """Post the Stop message below the stream once answers waiting to be posted in
        the channel have gone (it never delays another thread's first words)."""
        await self.budget.reserve_last(POST, self.channel, self.key)
        self._stop_posting = True
        self.stop_control = await self._post(cards.stop_control(self.key))

    async def _in_stream(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> None:
        """A call on an open stream; Slack saying the stream is over raises StreamClosed."""
        try:
            await self.call(method, channel=self.channel, **kwargs)
        except SlackApiError as exc:
            if (error := failure(exc).error) in STREAM_ENDED:
                raise StreamClosed(error) from exc
            raise


class SlackSurfaces:
    """Builds the surface of a session; one rate budget per workspace, shared by its threads.

    It remembers for later turns that Slack refused native streams or the thread
    status (then turns post a placeholder), and logs the latter once; and which
    workspaces have no agent sessions.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        interval: float,
        native_streaming: bool,
        rate_budget: bool = True,
    ) -> None:
        self.client = client
        self.interval = interval
        self.native_streaming = native_streaming
        self.rate_budget = rate_budget
        self.status = StatusPermit()
        self.sessions = AgentSessions()
        self.budgets: dict[str, WorkspaceBudget] = {}

    def __call__(self, key: str, ref: dict[str, Any] | None = None) -> SlackSurface:
        """The runner's surface factory; a turn started by a person may stream natively."""
        session = SessionKey.parse(key)
        budget = self.budgets.setdefault(session.team, WorkspaceBudget(limited=self.rate_budget))
        ref = ref or {}
        recipient = ref.get("user")
        shared = {"permit": self.status, "sessions": self.sessions, "ref": ref}
        if self.native_streaming and recipient:
            return StreamingSlackSurface(
                self.client,
                key,
                budget,
                interval=self.interval,
                recipient=recipient,
                on_refused=self._refused,
                stop_control=not ref.get("placeholder"),
                **shared,
            )
        return SlackSurface(self.client, key, budget, interval=self.interval, **shared)

    def _refused(self) -> None:
        self.native_streaming = False

    def with_access(self, file: SharedFile) -> SharedFile:
        """A file of this workspace, to be downloaded with the bot token."""
        return with_token(self.client, file)

    async def aclose(self) -> None:
        """Close the Web API client's HTTP session (a :class:`bot.platform.Closing`)."""
        if self.client.session is not None:
            await self.client.session.close()


def slack_surfaces(settings: Settings) -> SlackSurfaces:
    """The surfaces of the bot's Slack workspace, through the Web API at ``SLACK_API_URL``,
    on one HTTP session (kept-alive connections; without it slack_sdk opens a session per
    call). Call it with the event loop running."""
    token = settings.slack_bot_token
    client = AsyncWebClient(
        token=token.get_secret_value() if token else None,
        base_url=settings.slack_api_url,
        session=aiohttp.ClientSession(),
    )
    return SlackSurfaces(
        client,
        interval=settings.slack_edit_interval_ms / 1000,
        native_streaming=settings.slack_native_streaming,
        rate_budget=settings.slack_rate_budget,
    )
