"""The HTTP server: ``GET /healthz``, ``GET /metrics``; adapters add their routes."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.store.redis_keys import TURNS
from bot.telemetry.metrics import QUEUE_DEPTH

REDIS_TIMEOUT = 2.0
"""A probe answers within this even while the client retries a lost Redis."""
DOWN = (RedisError, OSError, TimeoutError)


def build_http_app(redis: Redis) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                await redis.ping()
        except DOWN as exc:
            return web.json_response({"ok": False, "redis": str(exc) or "timeout"}, status=503)
        return web.json_response({"ok": True})

    async def metrics(_: web.Request) -> web.Response:
        with contextlib.suppress(*DOWN):  # /healthz reports Redis
            async with asyncio.timeout(REDIS_TIMEOUT):
                QUEUE_DEPTH.set(await redis.xlen(TURNS))
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


SHUTDOWN_TIMEOUT = 5.0
"""Seconds a closing server waits for requests in flight (a Slack event's ack is quick;
the turns it queued are handed over by the runner, not by the HTTP server)."""


async def serve(app: web.Application, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    """Start serving ``app``; the caller cleans up the returned runner."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
