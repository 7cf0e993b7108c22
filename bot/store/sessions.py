"""The Redis session store: sessions, inboxes, the turn stream, locks, dedupe (approvals:
:mod:`bot.store.approvals`).

Every write of a session is one MULTI transaction, and every contested
transition (lock release, an approval decision) one Lua script, so a crash or a
Redis restart between steps never leaves a half-written session. A turn's writes are
*fenced*: given the turn's lock token, they happen only while that token holds the
session's lock (:class:`LockLost` otherwise), so a worker whose lock lapsed or was taken
never saves over the worker carrying its turn on.

Work reaches workers through one stream (:data:`~bot.store.redis_keys.TURNS`,
consumer group :data:`~bot.store.redis_keys.TURNS_GROUP`): an entry says "this
session has input". The input itself waits
in the session's inbox list, and moves to the session's ``current`` list while
it runs, so a worker that dies mid-turn leaves it where the next one finds it.

Each write of a session also puts it in its platform's expiry index
(:func:`~bot.store.redis_keys.expiring`), scored with when its TTL runs out; deleting it
takes it out. :meth:`SessionStore.claim_expired` hands each session whose time passed to
one caller (the sweep of :mod:`bot.turns.expiry`), which closes what the platform keeps of it.
Key names come from :mod:`bot.store.redis_keys`, which lists them all.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from agent.session import Session
from bot.session_key import platform_of
from bot.store import lua, redis_keys
from bot.store.approvals import ApprovalStore

IDEMPOTENCY_TTL = 86_400
"""Seconds a tool call's idempotency key is kept: takeovers happen within minutes."""
HAND_BACK_IDLE_MS = 10**9
"""Idle time given to an entry handed back on shutdown: the next XAUTOCLAIM takes it."""


def expiring(key: str) -> str:
    """The expiry index of the platform of session ``key``."""
    return redis_keys.expiring(platform_of(key))


def json_pairs(fields: dict[str, Any]) -> list[str]:
    """``fields`` as HSET arguments for a Lua script: name, JSON value, name, ..."""
    return [part for k, v in fields.items() for part in (k, json.dumps(v))]


class LockLost(Exception):
    """A fenced write found the session's lock lapsed or held by another worker."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the lock of {key} is no longer held")
        self.key = key


@dataclass(frozen=True)
class Hold:
    """A session lock this process holds: its token and TTL (ms). Fenced writes carry it."""

    token: str
    ttl_ms: int


@dataclass(frozen=True)
class Work:
    """A stream entry: ``key`` has input. ``reclaimed`` if its first worker stopped answering."""

    entry_id: str
    key: str
    reclaimed: bool = False


class SessionStore(ApprovalStore):
    """Per-session state in Redis; holds nothing in process memory. Its approvals
    (:class:`~bot.store.approvals.ApprovalStore`) are kept by its base."""

    def __init__(
        self,
        redis: Redis,
        *,
        ttl_seconds: int = 30 * 86400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(redis, ttl_seconds=ttl_seconds, clock=clock)
        self._release = redis.register_script(lua.RELEASE)
        self._extend = redis.register_script(lua.EXTEND)
        self._fenced_write = redis.register_script(lua.FENCED_WRITE)
        self._fenced_note = redis.register_script(lua.FENCED_NOTE)
        self._fenced_take = redis.register_script(lua.FENCED_TAKE)
        self._claim_expired = redis.register_script(lua.CLAIM_EXPIRED)

    # ── sessions ─────────────────────────────────────────────────────────

    async def load(self, key: str) -> Session | None:
        raw = await self.redis.get(redis_keys.session(key))
        return Session.from_dict(json.loads(raw)) if raw else None

    async def save(self, session: Session, *, fence: Hold | None = None, **meta: Any) -> None:
        """Write the session and its metadata in one step, renewing the TTL; with ``fence``
        only while it holds the session's lock, else :class:`LockLost`."""
        if fence is not None:
            await self._fenced(session.key, fence, session, meta, end=False)
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            self._write(pipe, session, meta)
            await pipe.execute()

    async def finish(
        self, key: str, session: Session | None, *, fence: Hold | None = None, **meta: Any
    ) -> None:
        """End the running input of ``key``: save ``session`` (None deletes it) in the same
        step; with ``fence`` only while it holds the lock (see :meth:`save`)."""
        if fence is not None:
            await self._fenced(key, fence, session, meta, end=True)
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            if session is None:
                self._delete(pipe, key)
            else:
                self._write(pipe, session, meta)
            pipe.delete(redis_keys.current(key))
            await pipe.execute()

    async def _fenced(
        self, key: str, hold: Hold, session: Session | None, meta: dict[str, Any], *, end: bool
    ) -> None:
        fields = {"last_activity": time.time(), **meta}
        pairs = json_pairs(fields)
        keys = [redis_keys.lock(key), *redis_keys.session_data(key), redis_keys.current(key)]
        written = await self._fenced_write(
            keys=[*keys, expiring(key)],
            args=[
                hold.token,
                hold.ttl_ms,
                "" if session is None else json.dumps(session.to_dict()),
                self.ttl,
                "1" if end else "0",
                key,
                self.expires_at(),
                *pairs,
            ],
        )
        if not written:
            raise LockLost(key)

    def _write(self, pipe: Any, session: Session, meta: dict[str, Any]) -> None:
        fields = {"last_activity": time.time(), **meta}
        pipe.set(redis_keys.session(session.key), json.dumps(session.to_dict()), ex=self.ttl)
        pipe.hset(
            redis_keys.meta(session.key), mapping={k: json.dumps(v) for k, v in fields.items()}
        )
        pipe.expire(redis_keys.meta(session.key), self.ttl)
        pipe.zadd(expiring(session.key), {session.key: self.expires_at()})

    @staticmethod
    def _delete(pipe: Any, key: str) -> None:
        pipe.delete(*redis_keys.session_data(key))
        pipe.zrem(expiring(key), key)

    def expires_at(self) -> float:
        """When a session written now expires (epoch seconds, by the store's clock)."""
        return self.clock() + self.ttl

    async def note(self, key: str, *, fence: Hold | None = None, **fields: Any) -> None:
        """Keep ``fields`` in the session's metadata (beside what turns write); with
        ``fence`` only while it holds the session's lock (else :class:`LockLost`)."""
        meta = redis_keys.meta(key)
        if fence is not None:
            pairs = json_pairs(fields)
            args = [fence.token, fence.ttl_ms, self.ttl, *pairs]
            if not await self._fenced_note(keys=[redis_keys.lock(key), meta], args=args):
                raise LockLost(key)
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(meta, mapping={k: json.dumps(v) for k, v in fields.items()})
            pipe.expire(meta, self.ttl)
            await pipe.execute()

    async def meta(self, key: str) -> dict[str, Any]:
        raw = await self.redis.hgetall(redis_keys.meta(key))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def delete(self, key: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            self._delete(pipe, key)
            await pipe.execute()

    # ── sessions whose TTL ran out ───────────────────────────────────────

    async def claim_expired(self, platform: str, now: float, count: int) -> list[str]:
        """Up to ``count`` session keys of ``platform`` expired by ``now``, each handed to
        one caller only: they leave the expiry index as they are returned."""
        claimed = await self._claim_expired(keys=[redis_keys.expiring(platform)], args=[now, count])
        return [key.decode() for key in claimed]

    # ── inbox: inputs waiting for their turn, in order ───────────────────

    async def push_input(self, key: str, item: dict[str, Any]) -> dict[str, Any]:
        """Queue ``item`` (given a ``turn_id``) and announce it on the stream, in one step."""
        item = {"turn_id": uuid.uuid4().hex[:12], **item}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(redis_keys.inbox(key), json.dumps(item))
            pipe.expire(redis_keys.inbox(key), self.ttl)
            pipe.xadd(redis_keys.TURNS, {"key": key})
            await pipe.execute()
        return item

    async def take_input(self, key: str, fence: Hold | None = None) -> dict[str, Any] | None:
        """Move the next input to ``current``, where it stays until :meth:`finish`; with
        ``fence`` only while it holds the session's lock (else :class:`LockLost`)."""
        if fence is None:
            raw = await self.redis.lmove(
                redis_keys.inbox(key), redis_keys.current(key), "LEFT", "RIGHT"
            )
        else:
            keys = [redis_keys.lock(key), redis_keys.meta(key)]
            keys += [redis_keys.inbox(key), redis_keys.current(key)]
            held, *moved = await self._fenced_take(keys=keys, args=[fence.token, fence.ttl_ms])
            if not held:
                raise LockLost(key)
            raw = moved[0] if moved else None
        return json.loads(raw) if raw else None

    async def current_input(self, key: str) -> dict[str, Any] | None:
        """An input a worker took and never finished (it died or was stopped)."""
        raw = await self.redis.lindex(redis_keys.current(key), 0)
        return json.loads(raw) if raw else None

    async def busy(self, key: str) -> bool:
        """Whether ``key`` has input queued or running, or a worker holds it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(redis_keys.inbox(key))
            pipe.llen(redis_keys.current(key))
            pipe.exists(redis_keys.lock(key))
            return any(await pipe.execute())

    async def inbox_size(self, key: str) -> int:
        return await self.redis.llen(redis_keys.inbox(key))

    async def pending_keys(self) -> set[str]:
        """Sessions with input queued or left running."""
        keys: set[str] = set()
        for prefix in redis_keys.PENDING_PREFIXES:
            async for k in self.redis.scan_iter(match=prefix + "*"):
                keys.add(k.decode()[len(prefix) :])
        return keys

    async def announce(self, key: str) -> None:
        """Put an entry for ``key`` on the stream (its inputs are already queued)."""
        await self.redis.xadd(redis_keys.TURNS, {"key": key})

    # ── the turn stream: which sessions have input ───────────────────────

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(
                redis_keys.TURNS, redis_keys.TURNS_GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def next_work(self, consumer: str, count: int, block_ms: int) -> list[Work]:
        """New entries for this consumer; waits up to ``block_ms`` for one."""
        try:
            reply = await self.redis.xreadgroup(
                redis_keys.TURNS_GROUP,
                consumer,
                {redis_keys.TURNS: ">"},
                count=count,
                block=block_ms,
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # Redis lost its data (a restart without persistence)
            return []
        return [Work(i.decode(), f[b"key"].decode()) for _, entries in reply for i, f in entries]

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[Work]:
        """Entries whose worker has not renewed its lease for ``min_idle_ms``."""
        try:
            _, entries, *_ = await self.redis.xautoclaim(
                redis_keys.TURNS, redis_keys.TURNS_GROUP, consumer, min_idle_ms, "0-0", count=count
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()
            return []
        return [Work(i.decode(), f[b"key"].decode(), True) for i, f in entries if f]

    async def renew_lease(self, consumer: str, entry_id: str) -> None:
        await self.redis.xclaim(
            redis_keys.TURNS, redis_keys.TURNS_GROUP, consumer, 0, [entry_id], justid=True
        )

    async def hand_back(self, consumer: str, entry_id: str) -> None:
        """Let the next XAUTOCLAIM of any worker take ``entry_id`` at once."""
        await self.redis.xclaim(
            redis_keys.TURNS,
            redis_keys.TURNS_GROUP,
            consumer,
            0,
            [entry_id],
            idle=HAND_BACK_IDLE_MS,
            justid=True,
        )

    async def ack(self, entry_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(redis_keys.TURNS, redis_keys.TURNS_GROUP, entry_id)
            pipe.xdel(redis_keys.TURNS, entry_id)
            await pipe.execute()

    # ── the per-session turn lock ────────────────────────────────────────

    async def acquire_lock(self, key: str, ttl_ms: int) -> Hold | None:
        token = secrets.token_hex(8)
        ok = await self.redis.set(redis_keys.lock(key), token, nx=True, px=ttl_ms)
        return Hold(token, ttl_ms) if ok else None

    async def extend_lock(self, key: str, hold: Hold) -> bool:
        """Renew the lock; False when it lapsed or another worker holds it (see
        :data:`~bot.store.lua.HELD`: after Redis lost its data, the holder takes it again)."""
        keys = [redis_keys.lock(key), redis_keys.meta(key)]
        return bool(await self._extend(keys=keys, args=[hold.token, hold.ttl_ms]))

    async def release_lock(self, key: str, hold: Hold) -> None:
        await self._release(keys=[redis_keys.lock(key)], args=[hold.token])

    async def locked(self, key: str) -> bool:
        return bool(await self.redis.exists(redis_keys.lock(key)))

    # ── tool calls: each runs at most once ───────────────────────────────

    async def claim_tool_call(self, key: str, tool_call_id: str) -> bool:
        """Store the idempotency key of a tool call before it runs; False if it was stored before."""
        return bool(
            await self.redis.set(
                redis_keys.ran(key, tool_call_id), time.time(), nx=True, ex=IDEMPOTENCY_TTL
            )
        )

    # ── status lines that outlive a turn (job progress) ──────────────────

    async def keep_background(self, key: str, line: str, work: dict[str, Any]) -> None:
        """Remember background work (a job watch) to resume after a restart."""
        await self.redis.hset(
            redis_keys.BACKGROUND, redis_keys.background_field(key, line), json.dumps(work)
        )

    async def end_background(self, key: str, line: str) -> None:
        await self.redis.hdel(redis_keys.BACKGROUND, redis_keys.background_field(key, line))

    async def background(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Every background work remembered: ``(session key, line key, work)``."""
        raw = await self.redis.hgetall(redis_keys.BACKGROUND)
        return [
            (*redis_keys.parse_background_field(k.decode()), json.loads(v)) for k, v in raw.items()
        ]

    async def claim_background(self, key: str, line: str, seconds: int) -> bool:
        """One process resumes a piece of work per ``seconds`` (processes start together)."""
        return bool(await self.redis.set(redis_keys.resumed(key, line), 1, nx=True, ex=seconds))

    async def line_ref(self, key: str, line: str) -> str | None:
        raw = await self.redis.hget(redis_keys.lines(key), line)
        return raw.decode() if raw else None

    async def set_line_ref(self, key: str, line: str, ref: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(redis_keys.lines(key), line, ref)
            pipe.expire(redis_keys.lines(key), self.ttl)
            await pipe.execute()

    # ── dedupe of redelivered platform events ────────────────────────────

    async def first_seen(self, event_id: str, ttl_seconds: int = 3600) -> bool:
        """True the first time ``event_id`` is seen within the TTL."""
        return bool(await self.redis.set(redis_keys.seen(event_id), 1, nx=True, ex=ttl_seconds))
