"""``ml-intern-bot worker``: runs turns from the Redis stream, with no chat front end.

It serves ``/healthz`` and ``/metrics`` on ``PORT`` when the port is free.

It renders through the same surfaces as the front ends: each platform of the
registry (:func:`bot.platforms.platforms`) offers them with ``worker_surfaces(rt)``,
a surface factory ``(key, ref) -> Surface`` (or None when its credentials are
missing), without connecting a gateway or serving events.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agent.tools.registry import ToolRegistry
from bot.ops.http import build_http_app, serve
from bot.platform import SurfaceFactory
from bot.platforms import platforms
from bot.runtime import Runtime, log_model, runtime
from bot.settings import Settings
from bot.turns.queue import redis_backoff

logger = logging.getLogger(__name__)

REDIS_START_TIMEOUT = 60.0


async def platform_surfaces(rt: Runtime) -> dict[str, SurfaceFactory]:
    """The surface factory of every platform that offers one and has credentials."""
    factories: dict[str, SurfaceFactory] = {}
    for name, platform in platforms().items():
        factory = await platform.worker_surfaces(rt)
        if factory is not None:
            factories[name] = factory
    return factories


async def wait_for_redis(redis: Redis, within: float = REDIS_START_TIMEOUT) -> None:
    """Ping until Redis answers, backing off; give up with a clear error after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    for attempt in itertools.count():
        try:
            await redis.ping()
            return
        except (RedisError, OSError) as exc:
            delay = redis_backoff(attempt)
            if loop.time() + delay > deadline:
                raise SystemExit(f"Redis is unreachable ({exc}); check REDIS_URL") from exc
            logger.warning("Redis is unreachable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)


async def run_worker(
    settings: Settings,
    *,
    tools: ToolRegistry | None = None,
    surfaces: dict[str, SurfaceFactory] | None = None,
) -> None:
    """Consume turns until SIGTERM, then finish or hand back the running ones."""
    async with runtime(settings.model_copy(update={"run_turns": True}), tools) as rt:
        await wait_for_redis(rt.redis)
        log_model(settings)
        rt.runner.surfaces.update(surfaces if surfaces is not None else await platform_surfaces(rt))
        await rt.runner.recover()
        logger.info(
            "worker %s running turns for %s",
            rt.runner.queue.name,
            ", ".join(rt.runner.surfaces) or "no platform",
        )
        site = await http_if_free(rt.redis, settings.port)
        try:
            await asyncio.Event().wait()
        finally:
            if site is not None:
                await site.cleanup()


async def http_if_free(redis: Redis, port: int) -> web.AppRunner | None:
    """``/healthz`` and ``/metrics`` on ``port``; None when it is taken (several workers a host)."""
    try:
        return await serve(build_http_app(redis), port)
    except OSError as exc:
        logger.warning("no /healthz or /metrics on port %d: %s", port, exc)
        return None
