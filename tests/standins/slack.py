"""A loopback Slack Web API that keeps messages per channel and records every call.

slack_sdk talks to it for real (``AsyncWebClient(base_url=slack.base_url)``):
form or JSON bodies in, ``{"ok": ...}`` JSON out, 429 with ``Retry-After`` when
told to, or on its own past Slack's published rate limits once
:meth:`SlackStandIn.enforce_rate_limits` is called (off by default). It also
signs and POSTs events and interactions to a Bolt endpoint the way Slack does
(``X-Slack-Signature``, ``X-Slack-Request-Timestamp``).

Files people share are served the way Slack serves them (:meth:`SlackStandIn.add_file`
gives the file object an event carries): ``url_private`` and ``url_private_download``
answer the bot token with the bytes; without it, or without the ``files:read`` scope
(``scopes``), they redirect to a sign-in web page; a deleted file is a 404.

Native streams keep Slack's limits: a call's ``markdown_text`` over ``max_append``
characters gets ``msg_too_long``; a stream older than ``stream_seconds`` (unset: never)
is over, and appending to or stopping it gets ``message_not_in_streaming_state``;
``chat.update`` of a message still streaming gets ``streaming_state_conflict``. Their
chunks are kept as a person sees them: the markdown text, and each task card's latest
state under the plan's title.

Agent sessions: with ``agent_sessions`` on, ``agents.sessions.setStatus`` keeps each
thread's statuses in order (``sessions``) and titles; off, it answers ``unknown_method``
as a workspace without them does. :meth:`SlackSender.session_stopped` sends the event
Slack's own Stop button sends.

Block Kit charts and tables keep Slack's limits: at most 2 ``data_visualization`` blocks a
message, 6 series a chart, 20 categories, labels of 20 characters, titles of 50; a
``data_table`` of 2 to 101 rows of at most 20 cells. Past them, or with ``charts_refused``
(a client that can't draw them), ``chat.postMessage`` and ``chat.update`` answer
``invalid_blocks``.

``conversations.replies`` reads a thread back as Slack does: its messages oldest first,
from ``oldest`` (and up to ``latest``; ``inclusive`` keeps the bounds), ``limit`` at a
time with a ``next_cursor``; the bot's messages carry its ``user`` and ``bot_id``. A
message's ``ts`` is the time Slack made it (seconds since the epoch, unique).

``assistant.threads.setStatus`` shows a status under a thread until it is cleared, the
bot posts in the thread (Slack clears it then), or ``status_seconds`` pass without a
refresh; ``status_error`` makes it refuse (e.g. ``missing_scope``). :meth:`SlackStandIn.seen`
reads a thread as a person sees it.

App Home: ``views.publish`` keeps the last view published for each user (``homes``),
refusing what Slack refuses (not a home view, over 100 blocks); ``users.conversations``
answers from ``members`` (channel -> user ids); :meth:`SlackSender.home_opened` and
:meth:`SlackSender.click_in_view` send what a person opening the tab and clicking in
it sends.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import ClientSession, WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from tests.standins.hold import Hold

TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
MAX_APPEND = 12_000
"""Slack's limit for ``markdown_text`` in one chat.startStream / appendStream call."""
STATUS_SECONDS = 120.0
"""Slack drops a thread status not set again within about 2 minutes."""


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    streaming: bool = False
    started: float = 0.0  # when its stream started (monotonic)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id -> latest chunk
    plan: str = ""  # the plan's title
    display_mode: str = ""  # a stream's task_display_mode

    def seen(self) -> list[str]:
        """The message as a person reads it: its text, task cards (status, title, output,
        details, links) under the plan's title, and its buttons."""
        lines = [self.shown()] if self.shown() else []
        if self.plan:
            lines.append(f"[plan] {self.plan}")
        for task in self.tasks.values():
            card = f"[{task['status']}] {task['title']}"
            if task.get("output"):
                card += f" — {task['output']}"
            lines.append(card)
            lines += [f"    · {line}" for line in (task.get("details") or "").splitlines()]
            lines += [f"    ↗ {s['url']}" for s in task.get("sources") or []]
        lines += [
            f"[button {element['text']['text']}]"
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block["elements"]
        ]
        return lines

    def button_ids(self) -> list[str]:
        return [
            element["action_id"]
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block["elements"]
        ]

    def feedback_buttons(self) -> dict[str, Any] | None:
        """The ``feedback_buttons`` element of the message's ``context_actions`` block, if any."""
        return next(
            (
                element
                for block in self.blocks
                if block.get("type") == "context_actions"
                for element in block["elements"]
                if element["type"] == "feedback_buttons"
            ),
            None,
        )

    def shown(self) -> str:
        """What a person reads: the section (or context) texts, else the top-level text."""
        sections = [b["text"]["text"] for b in self.blocks if b.get("type") == "section"]
        if not sections:
            sections = [
                e["text"] for b in self.blocks if b.get("type") == "context" for e in b["elements"]
            ]
        return "\n".join(sections) if sections else self.text


TIERS = {2: 20.0, 3: 50.0, 4: 100.0}
"""Calls per minute per workspace by tier (Slack's "20+", "50+", "100+")."""
METHOD_TIERS = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.startStream": 2,
    "chat.appendStream": 4,
    "chat.stopStream": 2,
    "assistant.threads.setStatus": 3,
    "agents.sessions.setStatus": 3,
    "conversations.replies": 3,
}
"""The tier of each method the stand-in limits (Slack's method reference)."""


@dataclass(frozen=True)
class RateLimits:
    """Slack's published limits: ``chat.postMessage`` ~1 per second per channel with short
    bursts, and each method of :data:`METHOD_TIERS` at its tier per workspace, with bursts
    of ``burst_seconds`` worth of calls ("sporadic bursts welcome")."""

    channel_per_second: float = 1.0
    channel_burst: float = 2.0
    tiers: dict[int, float] = field(default_factory=lambda: dict(TIERS))
    burst_seconds: float = 10.0

    def per_minute(self, method: str) -> float | None:
        tier = METHOD_TIERS.get(method)
        return None if tier is None else self.tiers[tier]


class TokenBucket:
    """``rate`` calls per second on average, at most ``burst`` at once."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def wait(self) -> float:
        """0 if a call may go now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class SlackStandIn:
    """``calls`` lists ``(method, args)``; ``messages`` maps ts to :class:`Message`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.messages: dict[str, Message] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.uploads: dict[str, dict[str, Any]] = {}
        self.socket: web.WebSocketResponse | None = None
        self.acks: dict[
            str, dict[str, Any]
        ] = {}  # envelope id -> the client's ack  # file id -> filename, content, where
        self.usergroups: dict[str, list[str]] = {}
        self.members: dict[str, list[str]] = {}  # channel -> its members (users.conversations)
        self.channel_names: dict[str, str] = {}  # channel -> its name (conversations.info)
        self.charts_refused = False
        self.homes: dict[str, dict[str, Any]] = {}  # user -> the App Home view last published
        self.fail_next: dict[str, list[tuple[int, dict[str, Any] | str, dict[str, str]]]] = {}
        """method -> the answers its next calls get: (status, JSON body or raw text, headers)."""
        self.streaming_enabled = False
        self.stream_seconds: float | None = None
        self.max_append = MAX_APPEND
        self.refused: list[tuple[str, str]] = []  # (method, error) of each refused call
        self.limits: RateLimits | None = None
        self.rate_limited: dict[str, int] = {}  # method -> 429s answered by the limits
        self.status: dict[tuple[str, str], tuple[str, list[str], float]] = {}
        """(channel, thread) -> status, loading messages, when set (monotonic)."""
        self.status_seconds = STATUS_SECONDS
        self.status_error: str | None = None
        self.agent_sessions = False
        self.sessions: dict[tuple[str, str], list[str]] = {}
        """(channel, thread) -> its agent session's statuses, in order."""
        self.titles: dict[tuple[str, str], str] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._blocked: dict[str, float] = {}  # method -> refused until (after a scripted 429)
        self.base_url = ""
        self.token = "xoxb-test"
        self.scopes = {"files:read", "files:write", "chat:write"}
        self.shared: dict[str, tuple[str, bytes, str]] = {}  # file id -> name, bytes, mimetype
        self.downloads: list[tuple[str, str | None]] = []  # (path, Authorization) per request
        self._ts = itertools.count(1)
        self._last_ts = 0.0
        self._files = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.held = Hold()
        """Web API methods answered only once released (``auth.test`` is never held): held
        before Slack acts on them, or after (``hold(..., answered=True)``: the message is
        made, the answer waits)."""

    # ── scripting ────────────────────────────────────────────────────────

    def rate_limit_next(self, method: str, retry_after: float = 1.0) -> None:
        """The next call of ``method`` gets HTTP 429 with ``Retry-After``."""
        self.fail_next.setdefault(method, []).append(
            (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
        )

    def enforce_rate_limits(self, limits: RateLimits | None = None) -> None:
        """Answer 429 with ``Retry-After`` (whole seconds, as Slack does) past ``limits``."""
        self.limits = limits or RateLimits()
        self._buckets.clear()

    def _over_limit(self, method: str, args: dict[str, Any]) -> float:
        """Seconds to wait if ``method`` may not be called now; 0 counts the call."""
        limits = self.limits
        buckets: list[tuple[str, float, float]] = []
        if method == "chat.postMessage":
            channel = f"channel:{args.get('channel')}"
            buckets.append((channel, limits.channel_per_second, limits.channel_burst))
        if per_minute := limits.per_minute(method):
            rate = per_minute / 60
            buckets.append((method, rate, max(1.0, rate * limits.burst_seconds)))
        taken = [self._buckets.setdefault(n, TokenBucket(r, b)) for n, r, b in buckets]
        wait = max((bucket.wait() for bucket in taken), default=0.0)
        if not wait:
            for bucket in taken:
                bucket.take()
        return wait

    def fail_method(self, method: str, error: str) -> None:
        self.fail_next.setdefault(method, []).append((200, {"ok": False, "error": error}, {}))

    def answer_raw_next(
        self, method: str, status: int, body: str, content_type: str = "text/html"
    ) -> None:
        """The next call of ``method`` gets HTTP ``status`` with a body that is not JSON (a
        proxy's HTML error page, an empty body)."""
        headers = {"Content-Type": content_type}
        self.fail_next.setdefault(method, []).append((status, body, headers))

    def called(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """Bot messages in a thread, in posting order."""
        return [
            m
            for m in self.messages.values()
            if m.channel == channel and (m.thread_ts == thread_ts or m.ts == thread_ts)
        ]

    def seen(self, channel: str, thread_ts: str) -> list[str]:
        """A thread as a person sees it: each bot message's lines, then the status if shown."""
        lines = [line for message in self.thread(channel, thread_ts) for line in message.seen()]
        if status := self.shown_status(channel, thread_ts):
            lines.append(f"(status) ml-intern {status}")
        return lines

    def shown_status(self, channel: str, thread_ts: str) -> str:
        """The status under a thread now ("" for none): set, not cleared, not lapsed."""
        status, _, at = self.status.get((channel, thread_ts), ("", [], 0.0))
        return status if time.monotonic() - at < self.status_seconds else ""

    # ── serving ──────────────────────────────────────────────────────────

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link", self._link)
        app.router.add_get("/files-pri/{file}/{name}", self._file)
        app.router.add_get("/files-pri/{file}/download/{name}", self._file)
        app.router.add_get("/signin", self._signin)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/api/"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> SlackStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method != "auth.test":
            await self.held.passing(method)
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(await request.post())
        for name in ("blocks", "view"):
            if isinstance(args.get(name), str):
                args[name] = json.loads(args[name])
        self.calls.append((method, args))
        if self.fail_next.get(method):
            status, body, headers = self.fail_next[method].pop(0)
            if isinstance(body, str):
                self.refused.append((method, f"HTTP {status}"))
                return web.Response(body=body.encode(), status=status, headers=headers)
            self.refused.append((method, body["error"]))
            if status == 429:  # Slack refuses the method until Retry-After has passed
                self._blocked[method] = time.monotonic() + float(headers["Retry-After"])
            return web.json_response(body, status=status, headers=headers)
        wait = self._blocked.get(method, 0.0) - time.monotonic()
        if wait > 0 or (self.limits and (wait := self._over_limit(method, args))):
            self.rate_limited[method] = self.rate_limited.get(method, 0) + 1
            headers = {"Retry-After": str(math.ceil(wait))}
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        body = handler(args) if handler else {}
        if "error" in body:
            self.refused.append((method, body["error"]))
        elif method != "auth.test":
            await self.held.answering(method)
        return web.json_response({"ok": "error" not in body, **body})

    def _new_ts(self) -> str:
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "team_id": TEAM,
            "team": "Test Team",
            "user": "ml-intern",
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self._blocks_valid(args.get("blocks") or []):
            return {"error": "invalid_blocks"}
        self._replied(args["channel"], args.get("thread_ts"))
        ts = self._new_ts()
        self.messages[ts] = Message(
            args["channel"],
            ts,
            args.get("text", ""),
            args.get("blocks") or [],
            args.get("thread_ts"),
        )
        return {"ts": ts, "channel": args["channel"]}

    def _live(self, message: Message) -> bool:
        """Whether ``message`` is a stream that still takes appends (it ends at its age limit)."""
        age = time.monotonic() - message.started
        if message.streaming and self.stream_seconds is not None and age >= self.stream_seconds:
            message.streaming = False
        return message.streaming

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages.get(args["ts"])
        if message is None:
            return {"error": "message_not_found"}
        if self._live(message):
            return {"error": "streaming_state_conflict"}
        if not self._blocks_valid(args.get("blocks") or []):
            return {"error": "invalid_blocks"}
        message.text = args.get("text", message.text)
        message.blocks = args.get("blocks") or []
        cards = [b for b in message.blocks if b.get("type") == "task_card"]
        if cards:  # a message written again with its task cards as blocks
            message.tasks = {b["task_id"]: task_of(b) for b in cards}
        return {"ts": args["ts"], "channel": args["channel"]}

    def _blocks_valid(self, blocks: list[dict[str, Any]]) -> bool:
        """Whether Slack takes these blocks' charts and tables."""
        charts = [b for b in blocks if b.get("type") == "data_visualization"]
        if charts and self.charts_refused or len(charts) > 2:
            return False
        for block in charts:
            chart = block["chart"]
            categories = chart["axis_config"]["categories"]
            labels = [d["label"] for s in chart["series"] for d in s["data"]]
            names = [s["name"] for s in chart["series"]]
            if (
                len(block["title"]) > 50
                or len(chart["series"]) > 6
                or len(categories) > 20
                or any(len(label) > 20 for label in [*categories, *names])
                or not set(labels) <= set(categories)
            ):
                return False
        for table in (b for b in blocks if b.get("type") == "data_table"):
            rows = table["rows"]
            if not 2 <= len(rows) <= 101 or any(len(row) > 20 for row in rows):
                return False
        return True

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self.ephemeral.append(args)
        return {"message_ts": self._new_ts()}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.messages.pop(args["ts"], None) is None:
            return {"error": "message_not_found"}
        return {"ts": args["ts"], "channel": args["channel"]}

    def _chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.streaming_enabled:
            return {"error": "not_allowed"}
        ts = self._new_ts()
        message = Message(
            args["channel"], ts, "", [], args.get("thread_ts"), True, time.monotonic()
        )
        message.display_mode = args.get("task_display_mode", "timeline")
        if error := self._take_chunks(message, args):
            return {"error": error}
        self._replied(args["channel"], args.get("thread_ts"))
        self.messages[ts] = message
        return {"ts": ts, "channel": args["channel"]}

    def _chat_appendStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages[args["ts"]]
        if not self._live(message):
            return {"error": "message_not_in_streaming_state"}
        if error := self._take_chunks(message, args):
            return {"error": error}
        return {"ts": args["ts"]}

    def _chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        message = self.messages[args["ts"]]
        if not self._live(message):
            return {"error": "message_not_in_streaming_state"}
        if error := self._take_chunks(message, args):
            return {"error": error}
        message.streaming = False
        return {"ts": args["ts"]}

    def _take_chunks(self, message: Message, args: dict[str, Any]) -> str | None:
        """Apply a stream call's ``markdown_text`` and ``chunks``; an error name if refused."""
        chunks = args.get("chunks") or []
        if isinstance(chunks, str):
            chunks = json.loads(chunks)
        texts = [args.get("markdown_text", "")]
        texts += [c.get("text", "") for c in chunks if c.get("type") == "markdown_text"]
        if any(len(t) > self.max_append for t in texts):
            return "msg_too_long"
        message.text += args.get("markdown_text", "")
        for chunk in chunks:
            kind = chunk.get("type")
            if kind == "markdown_text":
                message.text += chunk["text"]
            elif kind == "task_update":
                if chunk.get("status") not in ("pending", "in_progress", "complete", "error"):
                    return "invalid_chunks"
                message.tasks[chunk["id"]] = {**message.tasks.get(chunk["id"], {}), **chunk}
            elif kind == "plan_update":
                message.plan = chunk["title"]
            elif kind != "blocks":
                return "invalid_chunks"
        return None

    def _assistant_threads_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.status_error:
            return {"error": self.status_error}
        where = (args["channel_id"], args["thread_ts"])
        if args.get("status"):
            loading = list(args.get("loading_messages") or [])
            self.status[where] = (args["status"], loading, time.monotonic())
        else:
            self.status.pop(where, None)
        return {}

    def _agents_sessions_setStatus(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.agent_sessions:
            return {"error": "unknown_method"}
        if args["status"] not in ("processing", "active", "suspended", "closed"):
            return {"error": "invalid_status"}
        where = (args["channel_id"], args["thread_ts"])
        self.sessions.setdefault(where, []).append(args["status"])
        if args.get("title"):
            self.titles[where] = args["title"]
        return {}

    def session_status(self, channel: str, thread_ts: str) -> str:
        """The thread's agent session status now ("" for none)."""
        return (self.sessions.get((channel, thread_ts)) or [""])[-1]

    def _replied(self, channel: str, thread_ts: str | None) -> None:
        """The bot wrote in a thread: Slack clears the thread's status."""
        if thread_ts:
            self.status.pop((channel, thread_ts), None)

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or math.inf)

        def within(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = [
            {
                "type": "message",
                "ts": m.ts,
                "thread_ts": m.thread_ts,
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "text": m.text,
                "blocks": m.blocks,
            }
            for m in self.thread(args["channel"], args["ts"])
            if within(float(m.ts))
        ]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 1000)
        page, rest = found[start : start + limit], found[start + limit :]
        cursor = str(start + limit) if rest else ""
        return {
            "messages": page,
            "has_more": bool(rest),
            "response_metadata": {"next_cursor": cursor},
        }

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        self.views.append(args["view"])
        return {"view": {"id": f"V{len(self.views)}", **args["view"]}}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args["view"]
        if view.get("type") != "home" or len(view.get("blocks", [])) > 100:
            return {"error": "invalid_arguments"}
        self.homes[args["user_id"]] = view
        return {"view": {"id": f"VH{args['user_id']}", **view}}

    def _users_conversations(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args["user"]
        channels = [{"id": c} for c, members in self.members.items() if user in members]
        return {"channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args["channel"]
        if channel not in self.channel_names:
            return {"error": "channel_not_found"}
        return {"channel": {"id": channel, "name": self.channel_names[channel]}}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = args["message_ts"].replace(".", "")
        return {
            "channel": args["channel"],
            "permalink": f"https://slack.test/archives/{args['channel']}/p{ts}",
        }

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"users": self.usergroups.get(args["usergroup"], [])}

    # ── Socket Mode: apps.connections.open hands out a websocket ─────────

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.base_url.replace("http://", "ws://").replace("/api/", "/link")}

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        """The Socket Mode websocket: says hello, sends envelopes, takes their acks."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.socket = socket
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.acks[ack.get("envelope_id", "")] = ack
        return socket

    async def deliver(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an ``events_api`` / ``interactive`` envelope over the socket; returns its id."""
        assert self.socket is not None, "no Socket Mode connection yet"
        envelope_id = f"env-{next(self._ts)}"
        await self.socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    # ── files people share ───────────────────────────────────────────────

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/api/")

    def add_file(self, name: str, data: bytes, mimetype: str = "text/plain") -> dict[str, Any]:
        """A shared file as the ``files`` of a ``file_share`` event describe it."""
        file_id = f"F{next(self._files):08d}"
        self.shared[file_id] = (name, data, mimetype)
        where = f"{self.root}/files-pri/{TEAM}-{file_id}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "size": len(data),
            "mode": "hosted",
            "is_external": False,
            "url_private": f"{where}/{quote(name)}",
            "url_private_download": f"{where}/download/{quote(name)}",
            "permalink": f"https://team.slack.com/files/{BOT_USER}/{file_id}/{quote(name)}",
        }

    def delete_file(self, file_id: str) -> None:
        del self.shared[file_id]

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """``url_private``: the bytes for the bot token with files:read, else a sign-in page."""
        auth = request.headers.get("Authorization")
        self.downloads.append((request.path, auth))
        if auth != f"Bearer {self.token}" or "files:read" not in self.scopes:
            raise web.HTTPFound(f"{self.root}/signin?redir={quote(request.path)}")
        file_id = request.match_info["file"].removeprefix(f"{TEAM}-")
        if file_id not in self.shared:
            return web.Response(status=404, text="File not found")
        name, data, mimetype = self.shared[file_id]
        return web.Response(body=data, content_type=mimetype)

    async def _signin(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body>Sign in to Slack</body></html>", content_type="text/html"
        )

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{len(self.uploads) + 1:06d}"
        self.uploads[file_id] = {"filename": args.get("filename"), "content": None}
        return {
            "file_id": file_id,
            "upload_url": self.base_url.replace("/api/", f"/upload/{file_id}"),
        }

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal handed out: it takes the file's bytes."""
        self.uploads[request.match_info["file_id"]]["content"] = await request.read()
        return web.Response(text="OK")

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(args["files"]) if isinstance(args["files"], str) else args["files"]
        for shared in files:
            upload = self.uploads[shared["id"]]
            upload.update(
                title=shared.get("title"),
                channel=args.get("channel_id"),
                thread_ts=args.get("thread_ts"),
            )
        return {"files": [{"id": f["id"]} for f in files]}


def task_of(card: dict[str, Any]) -> dict[str, Any]:
    """A ``task_card`` block as the task chunk a person reads the same way (its output
    and details rich text as plain text)."""

    def plain(part: str) -> str:
        rich = card.get(part) or {"elements": []}
        return "".join(e["text"] for s in rich["elements"] for e in s["elements"] if "text" in e)

    return {**card, "id": card["task_id"], "output": plain("output"), "details": plain("details")}


def button_action(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    """The action of a click on button ``action_id`` among ``blocks`` (a stale click may
    name a button they no longer have)."""
    button = next(
        (
            e
            for b in blocks
            if b.get("type") == "actions"
            for e in b["elements"]
            if e["action_id"] == action_id
        ),
        {},
    )
    return {"type": "button", "action_id": action_id, "value": button.get("value", "")}


def on_message(message: Message) -> dict[str, Any]:
    """Where a click on ``message`` happened, as ``block_actions`` says it."""
    return {
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": message.channel,
            "is_ephemeral": False,
            "thread_ts": message.thread_ts,
        },
        "channel": {"id": message.channel},
        "message": {"ts": message.ts, "thread_ts": message.thread_ts, "type": "message"},
    }


class SlackSender:
    """Delivers signed Events API and interaction payloads to a Bolt endpoint."""

    def __init__(self, url: str, signing_secret: str) -> None:
        self.url = url
        self.verifier = SignatureVerifier(signing_secret)
        self._events = itertools.count(1)
        self._ts = itertools.count(1)
        self._last_ts = 0.0

    def ts(self) -> str:
        return f"1700000{next(self._ts):03d}.000100"

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        sent = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, **(headers or {})}
        if sign:
            sent["X-Slack-Signature"] = self.verifier.generate_signature(timestamp=stamp, body=body)
        async with ClientSession() as http, http.post(self.url, data=body, headers=sent) as r:
            return r.status, await r.text()

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        return json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM,
                "api_app_id": "A0APP",
                "type": "event_callback",
                "event_id": event_id or f"Ev{next(self._events):06d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
                "event": event,
            }
        )

    async def event(self, event: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        event_id = kwargs.pop("event_id", None)
        return await self.post(self.event_body(event, event_id), "application/json", **kwargs)

    async def mention(
        self,
        text: str,
        *,
        channel: str = "C0CHAN",
        user: str = "U0ALICE",
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """An ``app_mention`` event (with ``files`` shared with it); returns the event sent
        (its ``ts`` names the thread)."""
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER}> {text}",
            "ts": self.ts(),
            "channel": channel,
            "event_ts": "0",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files:
            event["files"] = files
        status, _ = await self.event(event)
        assert status == 200
        return event

    async def share(
        self,
        files: list[dict[str, Any]],
        text: str = "",
        *,
        channel: str = "C0CHAN",
        user: str = "U0ALICE",
        thread_ts: str | None = None,
        channel_type: str = "channel",
    ) -> dict[str, Any]:
        """A ``message`` event of subtype ``file_share`` (files from :meth:`SlackStandIn.add_file`)."""
        event = {
            "type": "message",
            "subtype": "file_share",
            "user": user,
            "text": text,
            "files": files,
            "upload": False,
            "ts": self.ts(),
            "channel": channel,
            "channel_type": channel_type,
            "event_ts": "0",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        status, _ = await self.event(event)
        assert status == 200
        return event

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def click(
        self, message: Message, action_id: str, *, user: str = "U0ALICE"
    ) -> tuple[int, str]:
        """A button click on ``message``, as a ``block_actions`` payload."""
        action = button_action(message.blocks, action_id)
        return await self._block_action(on_message(message), action, user)

    async def choose(
        self, message: Message, value: str, *, user: str = "U0ALICE"
    ) -> tuple[int, str]:
        """An option of the static_select menu of ``message`` chosen, as ``block_actions``."""
        block, menu = next(
            (b, e)
            for b in message.blocks
            if b.get("type") == "actions"
            for e in b["elements"]
            if e["type"] == "static_select"
        )
        option = next(o for o in menu["options"] if o["value"] == value)
        action = {"type": "static_select", "action_id": menu["action_id"]}
        action |= {"block_id": block["block_id"], "selected_option": option}
        return await self._block_action(on_message(message), action, user)

    async def rate(
        self, message: Message, *, positive: bool, user: str = "U0ALICE"
    ) -> tuple[int, str]:
        """A click on the 👍 (``positive``) or 👎 of ``message``'s feedback buttons."""
        element = message.feedback_buttons()
        assert element is not None, "the message has no feedback buttons"
        button = element["positive_button" if positive else "negative_button"]
        action = {
            "type": "feedback_buttons",
            "action_id": element["action_id"],
            "value": button["value"],
        }
        return await self._block_action(on_message(message), action, user)

    async def home_opened(self, user: str = "U0ALICE", tab: str = "home") -> tuple[int, str]:
        """The ``app_home_opened`` event of ``user`` opening the bot's Home (or Messages) tab."""
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": tab,
            "event_ts": self.ts(),
        }
        return await self.event(event)

    async def context_changed(self, channel: str, user: str = "U0ALICE") -> tuple[int, str]:
        """``app_context_changed``: ``user`` now views ``channel`` beside the Messages tab."""
        event = {
            "type": "app_context_changed",
            "user": user,
            "channel": f"D{user}",
            "context": {"channel_id": channel, "team_id": TEAM},
            "event_ts": self.ts(),
        }
        return await self.event(event)

    async def direct(self, text: str, user: str = "U0ALICE") -> dict[str, Any]:
        """A message written in the bot's Messages tab (a DM, not in a thread)."""
        event = {
            "type": "message",
            "channel": f"D{user}",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": self.ts(),
            "event_ts": "0",
        }
        status, _ = await self.event(event)
        assert status == 200
        return event

    async def session_stopped(
        self, channel: str, thread_ts: str, streams: list[str], user: str = "U0ALICE"
    ) -> tuple[int, str]:
        """The ``agent_session_stopped`` event of a click on Slack's own Stop button."""
        event = {
            "type": "agent_session_stopped",
            "user": user,
            "channel": channel,
            "thread_ts": thread_ts,
            "streaming_message_ts": streams,
            "event_ts": self.ts(),
        }
        return await self.event(event)

    async def click_in_view(
        self, view: dict[str, Any], action_id: str, *, user: str = "U0ALICE"
    ) -> tuple[int, str]:
        """A button click in a published view (App Home), as a ``block_actions`` payload."""
        where = {
            "container": {"type": "view", "view_id": f"VH{user}"},
            "view": {"id": f"VH{user}", **view},
        }
        return await self._block_action(where, button_action(view["blocks"], action_id), user)

    async def _block_action(
        self, where: dict[str, Any], action: dict[str, Any], user: str
    ) -> tuple[int, str]:
        """A ``block_actions`` payload; ``where`` says where it was clicked (container,
        and the message or the view)."""
        return await self.interaction(
            {
                "type": "block_actions",
                "team": {"id": TEAM, "domain": "team"},
                "user": {"id": user, "username": user.lower(), "team_id": TEAM},
                "api_app_id": "A0APP",
                "trigger_id": f"trigger-{next(self._events)}",
                **where,
                "actions": [{"block_id": "b", **action, "action_ts": "1"}],
            }
        )

    async def submit(
        self,
        view: dict[str, Any],
        values: dict[str, str],
        *,
        user: str = "U0ALICE",
        files: dict[str, list[dict[str, Any]]] | None = None,
    ) -> tuple[int, str]:
        """Submit a modal that was opened, with ``values`` by block id (and ``files`` from
        :meth:`SlackStandIn.add_file` uploaded in its file inputs, by block id)."""
        state: dict[str, Any] = {
            block: {"text": {"type": "plain_text_input", "value": v}} for block, v in values.items()
        }  # every text input of the bot's modals has the action id "text", a file input "file"
        for block, uploaded in (files or {}).items():
            state[block] = {"file": {"type": "file_input", "files": uploaded}}
        return await self.interaction(
            {
                "type": "view_submission",
                "team": {"id": TEAM, "domain": "team"},
                "user": {"id": user, "username": user.lower(), "team_id": TEAM},
                "api_app_id": "A0APP",
                "view": {
                    "id": "V1",
                    "type": "modal",
                    "callback_id": view["callback_id"],
                    "private_metadata": view["private_metadata"],
                    "state": {"values": state},
                    "blocks": view["blocks"],
                },
            }
        )
