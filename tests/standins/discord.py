"""A loopback Discord: the REST routes discord.py calls, and gateway payloads to feed it.

:class:`DiscordStandIn` serves what the adapter uses (log-in, command sync,
interaction callbacks and webhooks, channel messages, threads from messages),
keeps the messages it holds (ephemeral ones with their flag) and reads them back
(``GET /channels/{id}/messages`` with ``after`` / ``before`` / ``limit``, newest first,
as Discord answers; ids are time-based snowflakes), opens DM channels
(``dms``: user id -> channel id), and records every call (typing indicators too:
:meth:`DiscordStandIn.typing` lists them). ``rate_limit`` makes the
next matching call answer 429 the way Discord does (``retry_after`` in the body,
the rate-limit headers, a ``Via`` header so discord.py trusts it).

Attachments (:meth:`DiscordStandIn.add_attachment`) are served from the stand-in's
CDN path with signed-link parameters (``ex``, ``is``, ``hm``), to anyone, as
Discord's CDN serves them; a removed one is a 404. A modal's file upload
submits them as Discord does (attachment ids, resolved in ``data.resolved``).

Message bodies are checked against Discord's documented limits (:func:`invalid`),
Components V2 ones (flag :data:`COMPONENTS_V2`) too: no content or embeds, at most
40 components, 4,000 characters of text, file components pointing at uploaded
attachments, the flag never removed by an edit; a refusal is Discord's HTTP 400
(code 50035, ``Invalid Form Body``).

The ``*_event`` functions build the JSON payloads the gateway sends for
``INTERACTION_CREATE``, ``MESSAGE_CREATE``, ``GUILD_CREATE`` and ``THREAD_CREATE``;
tests hand them to discord.py's own parsers (``client._connection.parse_*``).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = "900000000000000001"
APP_ID = BOT_ID
TOKEN = "test-token"
TEXT_CHANNEL, PUBLIC_THREAD, DM = 0, 11, 1
CALLBACK_MESSAGE, CALLBACK_DEFERRED, CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE, CALLBACK_MODAL = (
    4,
    5,
    6,
    7,
    9,
)
EPHEMERAL = 64
COMPONENTS_V2 = 32768
"""The message flag IS_COMPONENTS_V2: no content or embeds, at most 40 components and 4,000
characters of text displays; once set, never removed."""
TEXT_DISPLAY, LABEL, FILE_UPLOAD = 10, 18, 19
V2_ONLY = {9, 10, 11, 12, 13, 14, 17}
"""Section, text display, thumbnail, media gallery, file, separator, container."""
OPTION_TYPES = {str: 3, int: 10, float: 10, dict: 11}
"""A slash command option's type by its Python value: string, number, attachment."""
_ids = itertools.count(1)


BODY = web.RequestKey("body", object)
"""The parsed request body (JSON or multipart), kept for the handlers."""


DISCORD_EPOCH_MS = 1_420_070_400_000
"""Discord's snowflakes count milliseconds from 2015-01-01."""


def snowflake() -> str:
    """A new id, as Discord makes them: its time in the top bits, so ids sort by time."""
    now = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str(now << 22 | next(_ids) & 0x3FFFFF)


def user(user_id: str, name: str = "", *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name or f"user{user_id[-4:]}",
        "discriminator": "0",
        "global_name": name or None,
        "avatar": None,
        "bot": bot,
    }


BOT_USER = user(BOT_ID, "ml-intern", bot=True)


def member(user_id: str, roles: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "user": user(user_id),
        "roles": list(roles),
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "2248473465835073",
    }


def channel(
    channel_id: str, guild_id: str | None, kind: int = TEXT_CHANNEL, parent_id: str | None = None
) -> dict[str, Any]:
    """A channel object: a guild text channel, a public thread or a DM."""
    data: dict[str, Any] = {"id": channel_id, "type": kind, "name": f"c{channel_id[-4:]}"}
    if guild_id:
        data |= {"guild_id": guild_id, "position": 0, "permission_overwrites": [], "nsfw": False}
    if kind == PUBLIC_THREAD:
        data |= {
            "parent_id": parent_id,
            "owner_id": BOT_ID,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": "2026-01-01T00:00:00+00:00",
                "locked": False,
            },
        }
    if kind == DM:
        data |= {"recipients": [user("1")], "last_message_id": None}
    return data


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    path: str
    json: Any
    status: int = 200


@dataclass
class Limit:
    method: str
    path: re.Pattern[str]
    retry_after: float
    times: int = 1


@dataclass
class Failure:
    """An answer that is not JSON (a proxy's HTML page, an empty body) for matching calls."""

    method: str
    path: re.Pattern[str]
    status: int
    body: str
    content_type: str
    times: int = 1


@dataclass
class Place:
    """Where an interaction happened: guild (None in DMs), the channel payload, who."""

    guild_id: str | None
    channel: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


class DiscordStandIn:
    """Discord's REST API on loopback; ``base_url`` goes into ``discord.http.Route.BASE``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.files: list[dict[str, Any]] = []  # uploaded attachments: filename, content
        self.channels: dict[str, dict[str, Any]] = {}
        self.interactions: dict[str, dict[str, Any]] = {}  # token -> interaction payload
        self.originals: dict[str, str] = {}  # token -> original response message id
        self.limits: list[Limit] = []
        self.failures: list[Failure] = []
        self.cdn: dict[str, tuple[bytes, str | None]] = {}  # attachment id -> bytes, type
        self.dms: dict[str, str] = {}  # user id -> the id of their DM channel with the bot
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> DiscordStandIn:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._app_info)
        r.add_put("/api/v10/applications/{app}/commands", self._commands)
        r.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._commands)
        r.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/@original", self._edit_original)
        r.add_delete("/api/v10/webhooks/{app}/{token}/messages/@original", self._delete_original)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_post("/api/v10/users/@me/channels", self._open_dm)
        r.add_get("/api/v10/channels/{channel}", self._get_channel)
        r.add_get("/api/v10/channels/{channel}/messages", self._get_messages)
        r.add_post("/api/v10/channels/{channel}/messages", self._post_message)
        r.add_patch("/api/v10/channels/{channel}/messages/{message}", self._edit_message)
        r.add_delete("/api/v10/channels/{channel}/messages/{message}", self._delete_message)
        r.add_post("/api/v10/channels/{channel}/messages/{message}/threads", self._thread)
        r.add_get("/attachments/{channel}/{attachment}/{filename}", self._attachment)
        r.add_post("/api/v10/channels/{channel}/typing", self._typing)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/api/v10"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ── test controls and views ──────────────────────────────────────────

    def rate_limit(self, method: str, path: str, retry_after: float, times: int = 1) -> None:
        """Answer the next ``times`` calls matching ``method`` and the ``path`` regex with 429."""
        self.limits.append(Limit(method, re.compile(path), retry_after, times))

    def fail(
        self, method: str, path: str, status: int, body: str, content_type: str = "text/html"
    ) -> None:
        """Answer the next call matching ``method`` and the ``path`` regex with HTTP ``status``
        and ``body`` as it is (not JSON)."""
        self.failures.append(Failure(method, re.compile(path), status, body, content_type))

    def of(self, method: str, path: str = "") -> list[Call]:
        """Calls with this method whose path matches the regex ``path``."""
        return [c for c in self.calls if c.method == method and re.search(path, c.path)]

    def typing(self, channel_id: str) -> list[int]:
        """The indexes in :attr:`calls` of the typing indicators sent to a channel."""
        path = f"/channels/{channel_id}/typing"
        return [i for i, c in enumerate(self.calls) if c.method == "POST" and c.path == path]

    def callbacks(self, kind: int | None = None) -> list[dict[str, Any]]:
        bodies = [c.json for c in self.of("POST", r"/callback$")]
        return [b for b in bodies if kind is None or b["type"] == kind]

    def in_channel(self, channel_id: str) -> list[dict[str, Any]]:
        """The messages of a channel, oldest first, as they are now."""
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] == PUBLIC_THREAD]

    @staticmethod
    def custom_ids(message: dict[str, Any], *, enabled_only: bool = True) -> list[str]:
        """The ids of a message's buttons (and selects), nested ones (V2) included."""
        return [
            item["custom_id"]
            for item in walk(message.get("components", []))
            if "custom_id" in item and not (enabled_only and item.get("disabled"))
        ]

    # ── serving ──────────────────────────────────────────────────────────

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = request[BODY] = await self._body(request)
        path = request.path.removeprefix("/api/v10")
        call = Call(request.method, path, body)
        self.calls.append(call)
        for failure in self.failures:
            if failure.times and failure.method == request.method and failure.path.search(path):
                failure.times -= 1
                call.status = failure.status
                headers = {"Content-Type": failure.content_type}
                return web.Response(
                    body=failure.body.encode(), status=failure.status, headers=headers
                )
        for limit in self.limits:
            if limit.times and limit.method == request.method and limit.path.search(path):
                limit.times -= 1
                call.status = 429
                return self._json(
                    {"message": "You are being rate limited.", "retry_after": limit.retry_after, "global": False},
                    status=429,
                    headers={
                        "Retry-After": str(limit.retry_after),
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": str(limit.retry_after),
                        "X-RateLimit-Bucket": "edit-bucket",
                        "X-RateLimit-Scope": "user",
                        "Via": "1.1 google",
                    },
                )  # fmt: skip
        problem = invalid(body.get("data", body) if isinstance(body, dict) else None)
        if problem:
            call.status = 400
            return self._json(form_error(problem), 400)
        return await handler(request)

    async def _body(self, request: web.Request) -> Any:
        """JSON, or discord.py's multipart upload: ``payload_json`` and ``files[n]`` parts."""
        if not request.can_read_body:
            return None
        if request.content_type != "multipart/form-data":
            return await request.json()
        body: dict[str, Any] = {}
        files = []
        async for part in await request.multipart():
            if part.name == "payload_json":
                body.update(json.loads(await part.text()))
            else:
                files.append({"filename": part.filename, "content": bytes(await part.read())})
        self.files.extend(files)
        channel_id = request.match_info.get("channel", "0")
        body["attachments"] = [
            self.add_attachment(channel_id, f["filename"], f["content"]) for f in files
        ]
        return body

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # discord.py parses JSON only for this exact Content-Type
        headers = {"Content-Type": "application/json", **(headers or {})}
        return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)

    async def _me(self, _: web.Request) -> web.Response:
        return self._json(BOT_USER)

    async def _app_info(self, _: web.Request) -> web.Response:
        return self._json(
            {
                "id": APP_ID,
                "name": "ml-intern",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user("1", "owner"),
                "verify_key": "00",
                "flags": 0,
            }
        )

    async def _commands(self, request: web.Request) -> web.Response:
        body = request[BODY]
        return self._json([{**c, "id": snowflake(), "application_id": APP_ID} for c in body])

    def _message(self, channel_id: str, body: dict[str, Any], author: dict[str, Any]) -> dict:
        message = message_event(channel_id, "", author, components=[])
        self._apply(message, body)
        self.messages[message["id"]] = message
        return message

    @staticmethod
    def _apply(message: dict[str, Any], body: dict[str, Any]) -> None:
        if "content" in body:
            message["content"] = body["content"] or ""  # null clears it
        for key in ("embeds", "components", "flags", "attachments"):
            if key in body and body[key] is not None:
                message[key] = body[key]

    async def _callback(self, request: web.Request) -> web.Response:
        body = request[BODY]
        interaction = self.interactions[request.match_info["token"]]
        token = interaction["token"]
        data = body.get("data") or {}
        answer: dict[str, Any] = {"id": interaction["id"], "type": interaction["type"]}
        resource: dict[str, Any] = {"type": body["type"]}
        if body["type"] in (CALLBACK_MESSAGE, CALLBACK_DEFERRED):
            loading = body["type"] == CALLBACK_DEFERRED
            message = self._message(interaction["channel_id"], data, user(APP_ID, bot=True))
            message["interaction_token"] = token
            self.originals[token] = message["id"]
            answer |= {
                "response_message_id": message["id"],
                "response_message_loading": loading,
                "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
            }
            resource["message"] = message
        elif body["type"] == CALLBACK_UPDATE:
            message = self.messages[interaction["message"]["id"]]
            self._apply(message, data)
            resource["message"] = message
        clicked = interaction.get("message")
        if body["type"] in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE) and clicked:
            self.originals[token] = clicked["id"]  # the message whose button was clicked
        return self._json({"interaction": answer, "resource": resource})

    async def _edit_original(self, request: web.Request) -> web.Response:
        message = self.messages[self.originals[request.match_info["token"]]]
        self._apply(message, request[BODY])
        return self._json(message)

    async def _delete_original(self, request: web.Request) -> web.Response:
        del self.messages[self.originals[request.match_info["token"]]]
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self.interactions[request.match_info["token"]]
        body = request[BODY]
        return self._json(self._message(interaction["channel_id"], body, user(APP_ID, bot=True)))

    async def _open_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels``: the bot's DM channel with a user (the same each time)."""
        recipient = str(request[BODY]["recipient_id"])
        if recipient not in self.dms:
            self.dms[recipient] = snowflake()
        dm = channel(self.dms[recipient], None, DM) | {"recipients": [user(recipient)]}
        self.channels.setdefault(dm["id"], dm)
        return self._json(dm)

    async def _get_channel(self, request: web.Request) -> web.Response:
        found = self.channels.get(request.match_info["channel"])
        if found is None:
            return self._json({"message": "Unknown Channel", "code": 10003}, status=404)
        return self._json(found)

    async def _post_message(self, request: web.Request) -> web.Response:
        body = request[BODY]
        return self._json(self._message(request.match_info["channel"], body, BOT_USER))

    async def _get_messages(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages``: up to ``limit`` (50) messages, newest first; with
        ``after`` the ones just after it, with ``before`` the ones just before it."""
        query = request.query
        found = sorted(self.in_channel(request.match_info["channel"]), key=lambda m: int(m["id"]))
        limit = int(query.get("limit", 50))
        if "after" in query:
            found = [m for m in found if int(m["id"]) > int(query["after"])][:limit]
        else:
            if "before" in query:
                found = [m for m in found if int(m["id"]) < int(query["before"])]
            found = found[-limit:]
        return self._json(found[::-1])

    async def _edit_message(self, request: web.Request) -> web.Response:
        message = self.messages.get(request.match_info["message"])
        if message is None:
            return self._json({"message": "Unknown Message", "code": 10008}, status=404)
        problem = v2_edit_problem(message, request[BODY])
        if problem:
            self.calls[-1].status = 400
            return self._json(form_error(problem), 400)
        self._apply(message, request[BODY])
        message["edited_timestamp"] = "2026-01-01T00:00:01+00:00"
        return self._json(message)

    async def _delete_message(self, request: web.Request) -> web.Response:
        if self.messages.pop(request.match_info["message"], None) is None:
            return self._json({"message": "Unknown Message", "code": 10008}, status=404)
        return web.Response(status=204)

    async def _typing(self, _: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _thread(self, request: web.Request) -> web.Response:
        body = request[BODY]
        parent = request.match_info["channel"]
        message_id = request.match_info["message"]
        guild = self.channels.get(parent, {}).get("guild_id")
        thread = channel(message_id, guild, PUBLIC_THREAD, parent) | {"name": body["name"]}
        self.channels[thread["id"]] = thread
        return self._json(thread)

    # ── attachments on the CDN ───────────────────────────────────────────

    def add_attachment(
        self, channel_id: str, filename: str, data: bytes, content_type: str | None = None
    ) -> dict[str, Any]:
        """An attachment object as a message (or a slash command's option) carries it."""
        attachment_id = snowflake()
        self.cdn[attachment_id] = (data, content_type)
        root = self.base_url.removesuffix("/api/v10")
        now = int(time.time())
        signed = f"ex={now + 86400:x}&is={now:x}&hm={'0' * 64}"
        url = f"{root}/attachments/{channel_id}/{attachment_id}/{filename}?{signed}"
        found = {"id": attachment_id, "filename": filename, "size": len(data), "url": url}
        found |= {"proxy_url": url}
        return found | ({"content_type": content_type} if content_type else {})

    def remove_attachment(self, attachment: dict[str, Any]) -> None:
        del self.cdn[attachment["id"]]

    async def _attachment(self, request: web.Request) -> web.Response:
        found = self.cdn.get(request.match_info["attachment"])
        if found is None:
            return web.Response(status=404, text="This content is no longer available.")
        data, content_type = found
        return web.Response(body=data, content_type=content_type or "application/octet-stream")

    # ── gateway payloads ─────────────────────────────────────────────────

    def add_channel(self, data: dict[str, Any]) -> dict[str, Any]:
        self.channels[data["id"]] = data
        return data

    def _interaction(
        self, kind: int, data: dict[str, Any], place: Place, who: dict[str, Any]
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": snowflake(),
            "application_id": APP_ID,
            "type": kind,
            "data": data,
            "channel": place.channel,
            "channel_id": place.channel["id"],
            "token": f"itoken-{snowflake()}",
            "version": 1,
            "locale": "en-US",
            "attachment_size_limit": 10_000_000,
            "app_permissions": "2248473465835073",
            "entitlements": [],
            "authorizing_integration_owners": {"0": place.guild_id or "1"},
            "context": 0 if place.guild_id else 1,
        }
        if place.guild_id:
            payload |= {"guild_id": place.guild_id, "member": who, "guild_locale": "en-US"}
        else:
            payload["user"] = who["user"]
        payload |= place.extra
        self.interactions[payload["token"]] = payload
        return payload

    def slash_event(
        self, name: str, place: Place, who: dict[str, Any], **options: str | float | dict
    ) -> dict[str, Any]:
        """An ``INTERACTION_CREATE`` for ``/name option:value`` (string or number options, or
        an attachment from :meth:`add_attachment`, resolved as Discord resolves it)."""
        attachments = {v["id"]: v for v in options.values() if isinstance(v, dict)}
        data: dict[str, Any] = {
            "id": snowflake(),
            "name": name,
            "type": 1,
            "options": [
                {
                    "name": k,
                    "type": OPTION_TYPES[type(v)],
                    "value": v["id"] if isinstance(v, dict) else v,
                }
                for k, v in options.items()
            ],
        }
        if attachments:
            data["resolved"] = {"attachments": attachments}
        if place.guild_id:
            data["guild_id"] = place.guild_id
        return self._interaction(2, data, place, who)

    def click_event(
        self, message: dict[str, Any], custom_id: str, place: Place, who: dict[str, Any]
    ) -> dict[str, Any]:
        """An ``INTERACTION_CREATE`` for a button of ``message`` (as the stand-in holds it)."""
        data = {"custom_id": custom_id, "component_type": 2}
        place = Place(place.guild_id, place.channel, {"message": dict(message)})
        return self._interaction(3, data, place, who)

    def submit_event(
        self,
        modal: dict[str, Any],
        values: dict[str, str | list[dict[str, Any]]],
        place: Place,
        who: dict[str, Any],
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An ``INTERACTION_CREATE`` submitting ``modal`` (a recorded type-9 callback's data).

        ``values`` maps a text input's ``custom_id`` to its text, and a file upload's to
        the attachments (:meth:`add_attachment`) uploaded in it, resolved as Discord
        resolves them.
        """
        resolved: dict[str, dict[str, Any]] = {}

        def submitted(item: dict[str, Any]) -> dict[str, Any]:
            value = values.get(item["custom_id"])
            answer = {"type": item["type"], "id": item.get("id"), "custom_id": item["custom_id"]}
            if item["type"] == FILE_UPLOAD:
                files = value if isinstance(value, list) else []
                resolved.update({f["id"]: f for f in files})
                return answer | {"values": [f["id"] for f in files]}
            return answer | {"value": value or ""}

        components = [
            {"type": LABEL, "id": top.get("id"), "component": submitted(top["component"])}
            if top["type"] == LABEL
            else {"type": 1, "components": [submitted(i) for i in top["components"]]}
            for top in modal["components"]
        ]
        extra = {"message": dict(message)} if message else {}
        data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": components}
        if resolved:
            data["resolved"] = {"attachments": resolved}
        return self._interaction(5, data, Place(place.guild_id, place.channel, extra), who)


def embed_chars(embed: dict[str, Any]) -> int:
    """The characters Discord counts towards a message's 6000 for an embed."""
    fields = embed.get("fields", [])
    texts = [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text")]
    texts += [(embed.get("author") or {}).get("name")]
    return sum(len(t or "") for t in texts) + sum(len(f["name"]) + len(f["value"]) for f in fields)


def walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component of a list, and every one nested in it (rows, containers, sections,
    labels), depth first."""
    found = []
    for item in components:
        found.append(item)
        nested = list(item.get("components", []))
        nested += [item[k] for k in ("accessory", "component") if isinstance(item.get(k), dict)]
        found += walk(nested)
    return found


def text_chars(components: list[dict[str, Any]]) -> int:
    """The characters Discord counts towards a V2 message's 4,000: its text displays'."""
    return sum(len(i.get("content", "")) for i in walk(components) if i["type"] == TEXT_DISPLAY)


def text_of(message: dict[str, Any]) -> str:
    """What a person reads in a message: its content, embeds and text displays."""
    texts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        texts += [embed.get("title") or "", embed.get("description") or ""]
        texts += [f"{f['name']}: {f['value']}" for f in embed.get("fields", [])]
    shown = walk(message.get("components") or [])
    texts += [i["content"] for i in shown if i["type"] == TEXT_DISPLAY]
    return "\n".join(t for t in texts if t)


def form_error(problem: str) -> dict[str, Any]:
    """Discord's HTTP 400 body for a payload it refuses."""
    errors = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": problem}]}
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}


def invalid(body: dict[str, Any] | None) -> str | None:
    """What Discord would refuse in a message or modal body (its documented limits), if anything."""
    if not body:
        return None
    embeds = body.get("embeds") or []
    rows = body.get("components") or []
    if (body.get("flags") or 0) & COMPONENTS_V2:
        return invalid_v2(body)
    items = [i for row in rows for i in row.get("components", [])]
    checks = {
        "content over 2000 characters": len(body.get("content") or "") > 2000,
        "more than 10 embeds": len(embeds) > 10,
        "an embed description over 4096": any(len(e.get("description", "")) > 4096 for e in embeds),
        "embeds over 6000 characters": sum(map(embed_chars, embeds)) > 6000,
        "more than 5 rows": len(rows) > 5,
        "more than 5 items in a row": any(len(r.get("components", [])) > 5 for r in rows),
        "a custom_id over 100 characters": any(len(i.get("custom_id", "")) > 100 for i in items),
        "a text input over 4000 characters": any(
            len(i.get("value") or "") > 4000 for i in items if i.get("type") == 4
        ),
        "a layout component in a message without the IS_COMPONENTS_V2 flag": any(
            i["type"] in V2_ONLY for i in walk(rows)
        ),
    }
    return next((name for name, failed in checks.items() if failed), None)


def invalid_v2(body: dict[str, Any]) -> str | None:
    """What Discord refuses in a Components V2 message."""
    components = walk(body.get("components") or [])
    files = {a["filename"] for a in body.get("attachments") or []}
    media = [
        m["url"]
        for i in components
        for m in [i.get("file", i.get("media"))] + [x["media"] for x in i.get("items", [])]
        if m
    ]
    checks = {
        "content on a message with the IS_COMPONENTS_V2 flag": bool(body.get("content")),
        "embeds on a message with the IS_COMPONENTS_V2 flag": bool(body.get("embeds")),
        "more than 40 components": len(components) > 40,
        "text displays over 4000 characters": text_chars(body.get("components") or []) > 4000,
        "more than 5 items in a row": any(
            len(i.get("components", [])) > 5 for i in components if i["type"] == 1
        ),
        "a custom_id over 100 characters": any(
            len(i.get("custom_id", "")) > 100 for i in components
        ),
        "a file component not pointing to an uploaded attachment": "attachments" in body
        and any(
            u.removeprefix("attachment://") not in files
            for u in media
            if u.startswith("attachment://")
        ),
    }
    return next((name for name, failed in checks.items() if failed), None)


def v2_edit_problem(message: dict[str, Any], body: dict[str, Any]) -> str | None:
    """What Discord refuses in an edit of a Components V2 message (the flag removed, content
    or embeds added), or in an edit that upgrades a message to V2 (content or embeds left)."""
    if not message.get("flags", 0) & COMPONENTS_V2:
        if not (body.get("flags") or 0) & COMPONENTS_V2:
            return None
        kept = {k: body.get(k, message.get(k)) for k in ("content", "embeds")}
        if any(kept.values()):  # an upgrade to V2 must reset them
            return "content and embeds not reset when setting IS_COMPONENTS_V2"
        return None
    if "flags" in body and body["flags"] is not None and not body["flags"] & COMPONENTS_V2:
        return "the IS_COMPONENTS_V2 flag can't be removed"
    return invalid_v2({**body, "flags": COMPONENTS_V2})


def message_event(
    channel_id: str, content: str, author: dict[str, Any], guild_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``MESSAGE_CREATE`` a member (or the bot) sent."""
    data = {
        "id": snowflake(),
        "channel_id": channel_id,
        "author": author,
        "content": content,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
    if guild_id:
        data["guild_id"] = guild_id
    return data | extra


def guild_event(guild_id: str, channels: list[dict[str, Any]], roles: tuple[str, ...] = ()) -> dict:
    """A ``GUILD_CREATE`` with text channels (and threads among ``channels``)."""
    everyone = {"id": guild_id, "name": "@everyone", "permissions": "0", "position": 0}
    return {
        "id": guild_id,
        "name": "test guild",
        "owner_id": "1",
        "unavailable": False,
        "member_count": 2,
        "roles": [
            everyone,
            *({"id": r, "name": f"r{r}", "permissions": "0", "position": 1} for r in roles),
        ],
        "channels": [c for c in channels if c["type"] != PUBLIC_THREAD],
        "threads": [c for c in channels if c["type"] == PUBLIC_THREAD],
        "members": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }
