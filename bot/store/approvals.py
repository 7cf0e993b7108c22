"""Approvals in Redis: opened by a turn, decided by clicks, closed once, indexed while open.

An approval is a hash (``mib:approval:<id>``) with its decisions and votes beside it;
every decision and every close is one Lua script (:mod:`bot.store.lua`), so of
concurrent clicks exactly one records each call. Open approvals are indexed by when
they opened (``mib:pending``), which the sweeper and the inbox read
(:meth:`ApprovalStore.open_approvals`). Each change bumps ``mib:changes`` so views
redraw only when needed. :class:`~bot.store.sessions.SessionStore` is built on
:class:`ApprovalStore`, so callers keep one store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from bot.store import lua, redis_keys

DecideResult = Literal[
    "recorded", "complete", "vote", "voted", "already", "missing", "decided", "abandoned"
]
"""``vote``: an approval counted toward a call that needs several; ``voted``: that person
had already approved it."""


@dataclass(frozen=True)
class ApprovalRecord:
    approval_id: str
    session_key: str
    requester: str
    status: str
    tools: list[dict[str, Any]]
    decisions: dict[str, dict[str, Any]]
    platform_ref: dict[str, Any]
    votes: dict[str, list[str]] = field(default_factory=dict)
    """Approvers so far of calls that need several, by tool call id."""

    def undecided(self) -> list[str]:
        """Ids of the calls nobody has decided yet."""
        return [t["tool_call_id"] for t in self.tools if t["tool_call_id"] not in self.decisions]


class ApprovalStore:
    """The approvals of a :class:`~bot.store.sessions.SessionStore` (its base)."""

    def __init__(
        self, redis: Redis, *, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.clock = clock
        """Epoch seconds when an approval opens (the sweeper reads them with the same clock)."""
        self._decide = redis.register_script(lua.DECIDE)
        self._close = redis.register_script(lua.CLOSE)

    async def open_approval(
        self,
        key: str,
        approval_id: str,
        tools: list[dict[str, Any]],
        requester: str,
        required: dict[str, int] | None = None,
    ) -> None:
        """Store an open approval; ``required`` is how many approvers a call needs, when > 1."""
        ids = [t["tool_call_id"] for t in tools]
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                redis_keys.approval(approval_id),
                mapping={
                    "session_key": key,
                    "requester": requester,
                    "status": "open",
                    "ids": json.dumps(ids),
                    "tools": json.dumps(tools),
                    "required": json.dumps(required or {}),
                    "platform_ref": "{}",
                },
            )
            pipe.expire(redis_keys.approval(approval_id), self.ttl)
            pipe.zadd(redis_keys.PENDING, {approval_id: self.clock()})
            pipe.incr(redis_keys.CHANGES)
            await pipe.execute()

    async def set_approval_ref(self, approval_id: str, ref: dict[str, Any]) -> None:
        """Remember where the approval card was posted (to update it from any process)."""
        await self.redis.hset(redis_keys.approval(approval_id), "platform_ref", json.dumps(ref))

    async def approval(self, approval_id: str) -> ApprovalRecord | None:
        raw = await self.redis.hgetall(redis_keys.approval(approval_id))
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        decisions = await self.redis.hgetall(redis_keys.decisions(approval_id))
        votes = await self.redis.hgetall(redis_keys.votes(approval_id))
        return ApprovalRecord(
            approval_id=approval_id,
            session_key=fields["session_key"],
            requester=fields["requester"],
            status=fields["status"],
            tools=json.loads(fields["tools"]),
            decisions={k.decode(): json.loads(v) for k, v in decisions.items()},
            platform_ref=json.loads(fields.get("platform_ref", "{}")),
            votes={k.decode(): json.loads(v) for k, v in votes.items()},
        )

    async def decide(
        self, approval_id: str, tool_call_id: str | None, decision: dict[str, Any]
    ) -> DecideResult:
        """Record one decision (or the same for all calls when ``tool_call_id`` is None).

        Atomic: of concurrent clicks exactly one records each call, and exactly
        one caller sees ``complete`` when the last call is decided. ``decision["by"]``
        is the voter for calls that need several approvers.
        """
        result = await self._decide(
            keys=[
                redis_keys.approval(approval_id),
                redis_keys.decisions(approval_id),
                redis_keys.votes(approval_id),
            ],
            args=[
                tool_call_id or "*",
                json.dumps(decision),
                "1" if decision.get("approved") else "0",
                decision.get("by", ""),
            ],
        )
        result = result.decode() if isinstance(result, bytes) else result
        if result in ("recorded", "complete", "vote"):
            await self.redis.incr(redis_keys.CHANGES)
        return result

    async def close_approval(self, approval_id: str, status: str) -> bool:
        """Mark an open approval ``abandoned`` (or another terminal status); False if not open."""
        closed = bool(await self._close(keys=[redis_keys.approval(approval_id)], args=[status]))
        if closed:
            await self.redis.incr(redis_keys.CHANGES)
        return closed

    async def open_approvals(self) -> list[tuple[ApprovalRecord, float]]:
        """Every open approval and when it opened, oldest first; closed ones leave the index."""
        found = []
        for raw, opened_at in await self.redis.zrange(redis_keys.PENDING, 0, -1, withscores=True):
            approval_id = raw.decode()
            record = await self.approval(approval_id)
            if record is None or record.status != "open":
                await self.redis.zrem(redis_keys.PENDING, approval_id)
                continue
            found.append((record, opened_at))
        return found
