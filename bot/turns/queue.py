"""One process's consumer of the turn stream: new entries, and those whose worker went silent.

Each entry is handed to ``drain`` in a task of its own (at most ``concurrency``
at once). An entry is acknowledged when its session was drained, or at once when
another worker holds the session; it is handed back (claimable by anyone right
away) when this process shuts down; after a Redis failure it is left to be
claimed when its lease runs out. Stops published
on :data:`CONTROL` by any process reach ``on_stop`` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from agent.waiting import cancel_and_wait
from bot.store.redis_keys import CONTROL
from bot.store.sessions import LockLost, SessionStore, Work

logger = logging.getLogger(__name__)

READ_BLOCK_MS = 1_000
REDIS_BACKOFF = (0.5, 1, 2, 5, 10)


class HandedBack(Exception):
    """A turn stopped with its input left current, for the next worker to carry on."""


def redis_backoff(attempt: int) -> float:
    """Seconds to wait before retrying Redis after ``attempt`` failures in a row."""
    return REDIS_BACKOFF[min(attempt, len(REDIS_BACKOFF) - 1)]


class StreamConsumer:
    def __init__(
        self,
        store: SessionStore,
        drain: Callable[[Work], Awaitable[bool]],
        on_stop: Callable[[str], object],
        *,
        concurrency: int,
        lease_ms: int,
    ) -> None:
        self.store = store
        self.drain = drain
        self.on_stop = on_stop
        self.concurrency = concurrency
        self.lease_ms = lease_ms
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.tasks: dict[str, asyncio.Task[None]] = {}  # entry id -> its task
        self._loops: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self._loops:
            self._loops = [
                asyncio.create_task(self._read(), name="turn stream"),
                asyncio.create_task(self._listen(), name="control channel"),
            ]

    async def close(self, grace: float) -> None:
        """Stop reading; give running entries ``grace`` seconds, then cancel (hand back) them."""
        await cancel_and_wait(self._loops)
        running = list(self.tasks.values())
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            await cancel_and_wait(late)
            await asyncio.gather(*running, return_exceptions=True)

    async def _read(self) -> None:
        failures = 0
        while True:
            free = self.concurrency - len(self.tasks)
            if free <= 0:
                await asyncio.wait(list(self.tasks.values()), return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                work = await self.store.reclaim(self.name, self.lease_ms, free)
                work = work or await self.store.next_work(self.name, free, READ_BLOCK_MS)
            except (RedisError, OSError) as exc:
                delay = redis_backoff(failures)
                failures += 1
                logger.warning("Redis unavailable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            for w in work:
                if w.entry_id not in self.tasks:
                    task = asyncio.create_task(self._handle(w), name=f"turns of {w.key}")
                    self.tasks[w.entry_id] = task
                    task.add_done_callback(lambda t, i=w.entry_id: self._forget(i, t))

    def _forget(self, entry_id: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(entry_id) is task:
            del self.tasks[entry_id]
        if not task.cancelled() and task.exception():
            logger.error("work on %s failed", entry_id, exc_info=task.exception())

    async def _handle(self, work: Work) -> None:
        """Drain the entry's session; ack unless a live worker may still need the entry."""
        try:
            drained = await self.drain(work)
        except asyncio.CancelledError:  # shutting down: another worker carries on at once
            with contextlib.suppress(RedisError, OSError):
                await self.store.hand_back(self.name, work.entry_id)
            raise
        except LockLost:  # another worker took the session (and this entry) over
            return
        except (HandedBack, RedisError, OSError) as exc:  # retried when the lease runs out
            logger.warning("%s left for a retry after the lease: %r", work.key, exc)
            return
        if drained or not work.reclaimed:
            await self.store.ack(work.entry_id)

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                async with self.store.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CONTROL)
                    failures = 0
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self.on_stop(json.loads(message["data"]).get("stop", ""))
            except (RedisError, OSError, ValueError) as exc:
                delay = redis_backoff(failures)
                failures += 1
                logger.warning("control channel lost (%s); resubscribing in %.1fs", exc, delay)
                await asyncio.sleep(delay)
