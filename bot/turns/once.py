"""Tool calls that run at most once, even when a turn is taken over after a crash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from redis.exceptions import RedisError

from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from bot.output.messages import ALREADY_STARTED, NOT_RUN_STORE_DOWN
from bot.store import redis_keys
from bot.store.sessions import SessionStore
from bot.telemetry.logs import TURN


class OnceTools:
    """A :class:`ToolRegistry` whose ``call`` stores an idempotency key before running the tool.

    The key is the turn id, the call's place in the history, its id and arguments, so
    providers that number calls ``0, 1, …`` in every reply don't collide.
    """

    def __init__(self, tools: ToolRegistry, store: SessionStore) -> None:
        self.tools = tools
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tools, name)

    async def call(self, name: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            first = await self.store.claim_tool_call(ctx.session.key, self._key(args, ctx))
        except (RedisError, OSError):
            return ToolResult(NOT_RUN_STORE_DOWN, False)
        if not first:
            return ToolResult(ALREADY_STARTED, False)
        return await self.tools.call(name, args, ctx)

    @staticmethod
    def _key(args: dict[str, Any], ctx: ToolContext) -> str:
        place = next(
            (
                i
                for i in range(len(ctx.session.history) - 1, -1, -1)
                if any(
                    tc.get("id") == ctx.tool_call_id
                    for tc in ctx.session.history[i].get("tool_calls") or []
                )
            ),
            -1,
        )
        digest = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:16]
        return redis_keys.tool_call(TURN.get(), place, ctx.tool_call_id, digest)
