"""A loopback OpenAI-compatible chat-completions server with scripted replies.

LiteLLM talks to it for real (``api_base=llm.base_url``): streamed SSE chunks
with text and tool-call deltas split the way OpenAI splits them, the usage chunk
last when the request asks for it (``stream_options: {include_usage: true}``, as
OpenAI sends it), non-streamed completions with their usage, and errors in OpenAI's
shape. ``usages`` keeps every usage it reported.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.standins.hold import Hold

Call = tuple  # (name, arguments) or (name, arguments, id)


@dataclass
class Reply:
    content: str = ""
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    finish_reason: str = "stop"
    chunk_size: int = 8
    delay: float = 0.0
    usage_tokens: int | None = None
    """The reply's total tokens in its usage (default: its text's length / 4, + prompt)."""
    status: int = 200
    error_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    prompt_tokens: int = 10


def _calls(calls: tuple[Call, ...] | list[Call]) -> list[tuple[str, str, str | None]]:
    out = []
    for call in calls:
        name, arguments, *rest = call
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        out.append((name, raw, rest[0] if rest else None))
    return out


def text(
    content: str,
    *,
    chunk_size: int = 8,
    delay: float = 0.0,
    finish_reason: str = "stop",
    usage_tokens: int | None = None,
    prompt_tokens: int = 10,
) -> Reply:
    return Reply(
        content, [], finish_reason, chunk_size, delay, usage_tokens, prompt_tokens=prompt_tokens
    )


def tool_calls(
    *calls: Call,
    content: str = "",
    delay: float = 0.0,
    finish_reason: str = "tool_calls",
    prompt_tokens: int = 10,
) -> Reply:
    return Reply(content, _calls(calls), finish_reason, delay=delay, prompt_tokens=prompt_tokens)


def truncated(content: str = "", calls: tuple[Call, ...] | list[Call] = ()) -> Reply:
    return Reply(content, _calls(calls), "length")


def error(
    status: int,
    message: str = "",
    *,
    code: str | None = None,
    kind: str = "api_error",
    headers: dict | None = None,
) -> Reply:
    """A non-2xx answer in OpenAI's error shape."""
    body = {"error": {"message": message or f"error {status}", "type": kind, "code": code}}
    return Reply(status=status, error_body=body, headers=dict(headers or {}))


def context_window_exceeded() -> Reply:
    return error(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9000 tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
        kind="invalid_request_error",
    )


def hang() -> Reply:
    """Start streaming, then say nothing until the client leaves or the server stops."""
    return Reply(hang=True)


class LLMStandIn:
    """``script()`` replies; each request takes the next one. ``requests`` records bodies.

    With none scripted, ``respond`` (if set) makes the reply from the request's body (e.g.
    an answer to its last user message), else ``default`` is the reply.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str] = []
        """The ``Authorization`` header of each completion request ('' without one)."""
        self.usages: list[dict[str, int]] = []
        """The usage of each completion answered, as reported to the client."""
        self.default: Reply | None = None
        self.respond: Callable[[dict[str, Any]], Reply] | None = None
        self.base_url = ""
        self._queue: list[Reply] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.held = Hold()
        """``held.hold()``: completions are answered only once released."""

    def script(self, *replies: Reply) -> None:
        self._queue.extend(replies)

    def pending(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_post("/chat/completions", self._completions)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        self._closing.set()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> LLMStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ── serving ──────────────────────────────────────────────────────────

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        await self.held.passing("completions")
        body = await request.json()
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization", ""))
        if self._queue:
            reply: Reply | None = self._queue.pop(0)
        else:
            reply = self.respond(body) if self.respond else self.default
        if reply is None:
            return web.json_response(
                {"error": {"message": "no scripted reply left", "type": "test_error"}}, status=500
            )
        if reply.error_body is not None:
            return web.json_response(reply.error_body, status=reply.status, headers=reply.headers)
        if body.get("stream"):
            return await self._stream(request, body, reply)
        return web.json_response(self._completion(body, reply))

    def _tool_call_ids(self, reply: Reply) -> list[str]:
        return [given or f"call_{next(self._ids)}" for _, _, given in reply.calls]

    def _usage(self, reply: Reply) -> dict[str, int]:
        prompt = reply.prompt_tokens
        total = reply.usage_tokens or max(1, len(reply.content) // 4) + prompt
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": total - prompt,
            "total_tokens": total,
        }
        self.usages.append(usage)
        return usage

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for (name, args, _), cid in zip(
                    reply.calls, self._tool_call_ids(reply), strict=True
                )
            ]
        return {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": self._usage(reply),
        }

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {
            "id": f"chatcmpl-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
        }

        async def send(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps({**chunk, **extra})}\n\n".encode())
            if reply.delay:
                await asyncio.sleep(reply.delay)

        try:
            await send({"role": "assistant", "content": ""})
            if reply.hang:
                await self._closing.wait()
                return response
            for i in range(0, len(reply.content), reply.chunk_size):
                await send({"content": reply.content[i : i + reply.chunk_size]})
            for index, ((name, args, _), cid) in enumerate(
                zip(reply.calls, self._tool_call_ids(reply), strict=True)
            ):
                first = {"index": index, "id": cid, "type": "function"}
                await send({"tool_calls": [{**first, "function": {"name": name, "arguments": ""}}]})
                step = max(1, -(-len(args) // 3))
                for j in range(0, len(args), step):
                    piece = {"index": index, "function": {"arguments": args[j : j + step]}}
                    await send({"tool_calls": [piece]})
            await send({}, reply.finish_reason)
            if (body.get("stream_options") or {}).get("include_usage"):
                data = {**base, "choices": [], "usage": self._usage(reply)}
                await response.write(f"data: {json.dumps(data)}\n\n".encode())
            await response.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            return response  # the client went away (a stopped turn)
        return response
