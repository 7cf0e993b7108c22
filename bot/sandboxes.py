"""The bot's sandboxes as Redis keeps them: an index every process shares, idle and unpaid
teardown, a warm pool, and the hourly sweep of orphan Spaces.

:class:`IndexedBackend` wraps the backend ``SANDBOX`` chose (the agent's tools see only
the wrapper): each sandbox started is written to ``mib:sandboxes`` with its session,
each call notes its use in ``mib:sandbox:used``, and each end removes it. From that
index any process can

- end sandboxes idle ``SANDBOX_IDLE_MINUTES`` (a session's ``new`` ends its own at once;
  an expired session's sandbox has been idle far longer than that);
- end a GPU sandbox whose paid hour is over unless the thread's auto-approve budget pays
  the next one (approval pays its first hour: ``bot/approvals/costs.py``);
- list and end them (``ml-intern-bot sandboxes``);
- delete the bot's own ``mib-sandbox-*`` Spaces the index does not know (orphans of a
  crash or of an older version), once an hour across all processes.

Warm pool (Spaces only; a local sandbox starts in a fraction of a second): ``SANDBOX_WARM``
ready cpu-basic sandboxes wait in ``mib:sandbox:warm``; a session's first use takes one and
the pool is refilled. A pool of one is the default because a busy workspace opens
hundreds of threads and most never run code: starting a Space on every session's first
turn would build (and hold a Space slot) for each of them, against the Hub's limits on
Space creation, while the pool builds exactly one per session that does use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from agent.sandbox.backends import (
    DEFAULT_HARDWARE,
    Progress,
    SandboxBackend,
    SandboxRecord,
    no_progress,
)
from agent.sandbox.client import SandboxClient
from agent.tools.hardware import CostEstimator
from agent.waiting import wait_at_most
from bot.approvals.budget import Budgets
from bot.store import redis_keys

logger = logging.getLogger(__name__)

HOUR = 3600.0
WARMING_SECONDS = 900
"""How long one process may take to start a warm sandbox before another may try."""
SWEEP_SECONDS = 300
"""The longest one process holds the index's teardown sweep (if it dies holding it)."""
ORPHAN_SWEEP_SECONDS = 3600
ORPHAN_GRACE_SECONDS = 1800.0
"""A Space younger than this may still be starting in some process: never an orphan."""
WARM_MAX_AGE = 24 * HOUR
"""A warm sandbox this old is replaced (a free Space sleeps after 48 idle hours)."""
WARM = ""
"""The ``session`` of a warm sandbox in the index."""


@dataclass
class Entry:
    """A sandbox as the index lists it (no token: ending one needs none)."""

    backend: str
    id: str
    hardware: str
    session: str
    created: float
    url: str = ""
    """Where it answers (a local one is ended through it from any process of the host)."""
    paid_until: float = 0.0
    last_used: float = 0.0

    def record(self) -> SandboxRecord:
        return SandboxRecord(self.backend, self.id, self.hardware, token="", url=self.url)

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in dataclasses.asdict(self).items() if k != "last_used"})

    @classmethod
    def from_json(cls, raw: str | bytes, last_used: float | None = None) -> Entry:
        entry = cls(**json.loads(raw))
        entry.last_used = last_used or entry.created
        return entry


def cost_so_far(entry: Entry, costs: CostEstimator, now: float) -> float:
    return costs.sandbox_hourly(entry.hardware) * max(0.0, now - entry.created) / HOUR


class SandboxIndex:
    """``mib:sandboxes`` and ``mib:sandbox:used``: the bot's sandboxes, from any process."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock

    async def add(self, record: SandboxRecord, session: str) -> Entry:
        now = self.clock()
        paid = now + HOUR if record.hardware != DEFAULT_HARDWARE else 0.0
        entry = Entry(
            record.backend, record.id, record.hardware, session, record.created, record.url, paid
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(redis_keys.SANDBOXES, record.id, entry.to_json())
            pipe.zadd(redis_keys.SANDBOX_USED, {record.id: now})
            await pipe.execute()
        entry.last_used = now
        return entry

    async def save(self, entry: Entry) -> None:
        await self.redis.hset(redis_keys.SANDBOXES, entry.id, entry.to_json())

    async def used(self, sandbox_id: str) -> None:
        await self.redis.zadd(redis_keys.SANDBOX_USED, {sandbox_id: self.clock()}, xx=True)

    async def remove(self, sandbox_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(redis_keys.SANDBOXES, sandbox_id)
            pipe.zrem(redis_keys.SANDBOX_USED, sandbox_id)
            await pipe.execute()

    async def get(self, sandbox_id: str) -> Entry | None:
        raw = await self.redis.hget(redis_keys.SANDBOXES, sandbox_id)
        if raw is None:
            return None
        return Entry.from_json(raw, await self.redis.zscore(redis_keys.SANDBOX_USED, sandbox_id))

    async def all(self) -> list[Entry]:
        raw = await self.redis.hgetall(redis_keys.SANDBOXES)
        used = dict(await self.redis.zrange(redis_keys.SANDBOX_USED, 0, -1, withscores=True))
        entries = [Entry.from_json(value, used.get(key)) for key, value in raw.items()]
        return sorted(entries, key=lambda e: e.created)

    async def idle(self, idle_seconds: float) -> list[str]:
        found = await self.redis.zrangebyscore(
            redis_keys.SANDBOX_USED, "-inf", self.clock() - idle_seconds
        )
        return [i.decode() if isinstance(i, bytes) else i for i in found]


class IndexedBackend:
    """A :class:`SandboxBackend` whose sandboxes are kept in the index (see the module)."""

    def __init__(
        self,
        inner: SandboxBackend,
        redis: Redis,
        *,
        warm: int = 0,
        budgets: Budgets | None = None,
        costs: CostEstimator | None = None,
        clock: Callable[[], float] = time.time,
        orphan_grace: float = ORPHAN_GRACE_SECONDS,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.shares_host_files = inner.shares_host_files
        self.redis = redis
        self.index = SandboxIndex(redis, clock)
        self.warm = warm if hasattr(inner, "own_spaces") else 0
        self.budgets = budgets
        self.costs = costs or CostEstimator()
        self.clock = clock
        self.orphan_grace = orphan_grace
        self._wanted = asyncio.Event()

    # ── the backend protocol ─────────────────────────────────────────────

    async def start(
        self, session_key: str, hardware: str, progress: Progress = no_progress
    ) -> SandboxRecord:
        warm = hardware == DEFAULT_HARDWARE and self.warm
        if warm and (record := await self._take_warm(session_key)) is not None:
            await progress(f"took the ready sandbox {record.id}")
            return record
        record = await self.inner.start(session_key, hardware, progress)
        await self.index.add(record, session_key)
        return record

    async def attach(self, record: SandboxRecord) -> SandboxClient:
        await self.index.used(record.id)
        return await self.inner.attach(record)

    async def alive(self, record: SandboxRecord) -> bool:
        return await self.inner.alive(record)

    async def stop(self, record: SandboxRecord) -> None:
        await self.inner.stop(record)
        await self.index.remove(record.id)

    async def stop_idle(self, idle_seconds: float) -> list[str]:
        """End what the index finds idle, unpaid or stale (and the inner backend's own idle
        ones); their ids."""
        ended = set(await self.inner.stop_idle(idle_seconds))
        for sandbox_id in ended:
            await self.index.remove(sandbox_id)
        if not await self.redis.set(redis_keys.SANDBOX_SWEEP, "1", nx=True, ex=SWEEP_SECONDS):
            return sorted(ended)  # another process sweeps the index now (one charge an hour)
        try:
            idle = set(await self.index.idle(idle_seconds))
            now = self.clock()
            for entry in await self.index.all():
                if entry.backend != self.name or entry.id in ended:
                    continue
                if entry.session == WARM:
                    if now - entry.created > WARM_MAX_AGE:
                        await self._end_warm(entry)
                        ended.add(entry.id)
                elif entry.id in idle or not await self._paid(entry, now):
                    await self.stop(entry.record())
                    ended.add(entry.id)
        finally:
            await self.redis.delete(redis_keys.SANDBOX_SWEEP)
        return sorted(ended)

    async def close(self) -> None:
        await self.inner.close()

    # ── cost ─────────────────────────────────────────────────────────────

    async def _paid(self, entry: Entry, now: float) -> bool:
        """Whether a paid sandbox may run on: its hour is paid, or the thread's budget pays
        the next one."""
        if not entry.paid_until or now < entry.paid_until:
            return True
        price = self.costs.sandbox_hourly(entry.hardware)
        if self.budgets is not None and await self.budgets.try_spend(entry.session, price):
            entry.paid_until += HOUR
            await self.index.save(entry)
            return True
        logger.info("sandbox %s (%s): its budget ran out", entry.id, entry.hardware)
        return False

    # ── the warm pool ────────────────────────────────────────────────────

    async def _take_warm(self, session_key: str) -> SandboxRecord | None:
        """A healthy warm sandbox, now the session's; None when the pool is empty."""
        while (raw := await self.redis.lpop(redis_keys.SANDBOX_WARM)) is not None:
            self._wanted.set()
            record = SandboxRecord.from_json(json.loads(raw))
            entry = await self.index.get(record.id)
            async with await self.inner.attach(record) as client:
                healthy = await client.healthy(5.0)
            if entry is not None and healthy:
                entry.session = session_key
                await self.index.save(entry)
                await self.index.used(record.id)
                return record
            await self.stop(record)
        return None

    async def _end_warm(self, entry: Entry) -> None:
        for raw in await self.redis.lrange(redis_keys.SANDBOX_WARM, 0, -1):
            if SandboxRecord.from_json(json.loads(raw)).id == entry.id:
                await self.redis.lrem(redis_keys.SANDBOX_WARM, 1, raw)
        await self.stop(entry.record())

    async def fill(self) -> int:
        """Start warm sandboxes until the pool holds ``warm``, in one process at a time;
        how many it started."""
        started = 0
        while self.warm and await self.redis.llen(redis_keys.SANDBOX_WARM) < self.warm:
            if not await self.redis.set(
                redis_keys.SANDBOX_WARMING, "1", nx=True, ex=WARMING_SECONDS
            ):
                return started  # another process fills it
            try:
                record = await self.inner.start(WARM, DEFAULT_HARDWARE)
                await self.index.add(record, WARM)
                await self.redis.rpush(redis_keys.SANDBOX_WARM, json.dumps(record.to_json()))
                started += 1
            finally:
                await self.redis.delete(redis_keys.SANDBOX_WARMING)
        return started

    # ── orphans ──────────────────────────────────────────────────────────

    async def sweep_orphans(self, *, force: bool = False) -> list[str]:
        """Delete the bot's sandbox Spaces no index entry knows (older than the grace), once
        an hour across processes (``force``: now); their ids."""
        own_spaces = getattr(self.inner, "own_spaces", None)
        if own_spaces is None:
            return []
        if not force and not await self.redis.set(
            redis_keys.SANDBOX_ORPHANS, "1", nx=True, ex=ORPHAN_SWEEP_SECONDS
        ):
            return []
        known = {
            k.decode() if isinstance(k, bytes) else k
            for k in await self.redis.hkeys(redis_keys.SANDBOXES)
        }
        now = self.clock()
        orphans = [
            space_id
            for space_id, created in await own_spaces()
            if space_id not in known and now - created > self.orphan_grace
        ]
        for space_id in orphans:
            await self.inner.stop(SandboxRecord(self.name, space_id, "", "", ""))
        if orphans:
            logger.info("deleted %d orphan sandbox Spaces: %s", len(orphans), ", ".join(orphans))
        return orphans

    async def run(self, every: float = 60.0) -> None:
        """Keep the warm pool full (refilled at once when one is taken) and sweep orphans
        hourly, until cancelled. Failures are logged and tried again later, waiting twice
        as long after each failed fill (up to an hour: a token that may not create Spaces
        is not retried every minute)."""
        wait = every
        while True:
            try:
                await self.fill()
                wait = every
            except asyncio.CancelledError:
                raise
            except Exception:
                wait = min(wait * 2, HOUR)
                logger.exception("filling the warm sandbox pool failed; next try in %.0f s", wait)
            try:
                await self.sweep_orphans()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("the orphan sandbox sweep failed")
            await wait_at_most(self._wanted, wait)
            self._wanted.clear()


async def end_sandbox(backend: SandboxBackend, redis: Redis, sandbox_id: str) -> Entry | None:
    """End one sandbox of the index (``ml-intern-bot sandboxes --delete``); None if unknown."""
    index = SandboxIndex(redis)
    entry = await index.get(sandbox_id)
    if entry is None:
        return None
    for raw in await redis.lrange(redis_keys.SANDBOX_WARM, 0, -1):
        if SandboxRecord.from_json(json.loads(raw)).id == sandbox_id:
            await redis.lrem(redis_keys.SANDBOX_WARM, 1, raw)
    if entry.backend == backend.name:
        await backend.stop(entry.record())
    await index.remove(sandbox_id)
    return entry


def format_table(entries: list[Entry], costs: CostEstimator, now: float) -> str:
    """``ml-intern-bot sandboxes``: id, backend, hardware, age, idle, session, cost so far."""
    if not entries:
        return "No sandboxes."
    rows = [("id", "backend", "hardware", "age", "idle", "session", "cost so far")]
    for e in entries:
        rows.append(
            (
                e.id,
                e.backend,
                e.hardware,
                _duration(now - e.created),
                _duration(now - e.last_used),
                e.session or "(warm)",
                f"${cost_so_far(e, costs, now):.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _duration(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours < 48 else f"{hours // 24}d"
