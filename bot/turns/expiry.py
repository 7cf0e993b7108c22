"""Sessions whose TTL ran out: what their platform keeps of them is closed too.

A session lives in Redis for ``SESSION_TTL_DAYS`` after its last write and then
vanishes without a word. The store keeps each platform's live sessions by when they
expire (:func:`bot.store.redis_keys.expiring`, scored again on every write); every
process sweeps it every :data:`SWEEP_SECONDS` (:func:`sweep_expired`). Each expired
session is claimed by one process (:meth:`~bot.store.sessions.SessionStore.claim_expired`),
which asks the platform's surface to close its own session of the thread where it keeps
one (:class:`~bot.platform.PlatformSessions`: Slack's agent sessions). A session written
again before its time (a new message) is scored later and stays; one ended by ``new``
has already left the index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from redis.exceptions import RedisError

from bot.platform import PlatformSessions, SurfaceFactory, call_surface
from bot.store.sessions import SessionStore

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 600.0
"""How often each process looks for expired sessions: a session idle for days may be
closed minutes late."""
CLAIM_BATCH = 50
"""Sessions claimed at a time: what a process killed mid-sweep leaves unclosed."""


async def close_expired(
    store: SessionStore, surfaces: Mapping[str, SurfaceFactory], now: float
) -> list[str]:
    """Claim the sessions expired by ``now`` (epoch seconds) of the platforms this process
    has surfaces for, and close each one's platform session; the keys of those closed."""
    closed: list[str] = []
    for platform, factory in list(surfaces.items()):
        while True:
            keys = await store.claim_expired(platform, now, CLAIM_BATCH)
            for key in keys:
                if await close_platform_session(factory, key):
                    closed.append(key)
            if len(keys) < CLAIM_BATCH:
                break
    return closed


async def close_platform_session(factory: SurfaceFactory, key: str) -> bool:
    """Close the platform's own session of ``key``'s thread; False where it keeps none,
    or the call failed (logged: the session is not claimed again)."""
    try:
        surface = factory(key, {})
        if not isinstance(surface, PlatformSessions):
            return False
        await call_surface(surface, surface.close_session)
    except Exception:
        logger.exception("could not close the platform session of expired %s", key)
        return False
    return True


async def sweep_expired(
    store: SessionStore, surfaces: Mapping[str, SurfaceFactory], every: float = SWEEP_SECONDS
) -> None:
    """Every ``every`` seconds, close the sessions expired by then (the store's clock);
    the first pass waits as long, once front ends have added their surfaces."""
    while True:
        await asyncio.sleep(every)
        try:
            if closed := await close_expired(store, surfaces, store.clock()):
                logger.info("closed %d expired sessions: %s", len(closed), ", ".join(closed))
        except (RedisError, OSError) as exc:
            logger.warning("session expiry sweep failed (%s); retrying", exc)
