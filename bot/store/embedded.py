"""A Redis for laptops: the bot's own redis-server on a unix socket, or fakeredis."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

START_TIMEOUT = 10.0
MAX_CONNECTIONS = 200
POOL_WAIT = 10.0
"""Seconds a command waits for a free connection before it fails."""
ACK_CONNECTIONS = 8
"""Connections of the acknowledgement pool (:func:`side_client`)."""


def connect(url: str, max_connections: int = MAX_CONNECTIONS) -> Redis:
    """A client that retries with backoff across a Redis restart.

    Its pool blocks (up to :data:`POOL_WAIT` seconds) when every connection is in
    use, rather than failing at once: a burst of events waits its turn.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


def side_client(redis: Redis, max_connections: int = ACK_CONNECTIONS) -> Redis:
    """A client of the same server with a small pool of its own: what a front end's
    acknowledgements use, so turns holding every connection of the main pool never make
    an acknowledgement wait for one."""
    pool = redis.connection_pool
    own = type(pool)(
        connection_class=pool.connection_class,
        max_connections=max_connections,
        **pool.connection_kwargs,
    )
    return Redis.from_pool(own)


async def _answers(url: str) -> bool:
    client = Redis.from_url(url)
    try:
        return bool(await client.ping())
    except (RedisConnectionError, OSError):
        return False
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_for(url: str | None, data_dir: Path) -> AsyncIterator[Redis]:
    """The configured Redis, or an embedded one that lives as long as this context."""
    if url:
        client = connect(url)
        try:
            yield client
        finally:
            await client.aclose()
        return
    binary = shutil.which("redis-server")
    if binary is None:
        import fakeredis

        logger.warning(
            "redis-server not found and REDIS_URL unset: using in-process fakeredis. "
            "Sessions will NOT survive a restart. Install redis-server or set REDIS_URL."
        )
        client = fakeredis.FakeAsyncRedis()
        try:
            yield client
        finally:
            await client.aclose()
        return
    async with _embedded_server(binary, data_dir.resolve()) as socket_url:
        client = connect(socket_url)
        try:
            yield client
        finally:
            await client.aclose()


@asynccontextmanager
async def _embedded_server(binary: str, data_dir: Path) -> AsyncIterator[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    socket = data_dir / "redis.sock"
    url = f"unix://{socket}"
    if await _answers(url):  # another bot process on this machine already runs it
        logger.info("using the embedded Redis already running at %s", socket)
        yield url
        return
    socket.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--port", "0",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT
        while not await _answers(url):
            if proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the embedded redis-server did not start (socket {socket})")
            await asyncio.sleep(0.05)
        logger.info("started an embedded redis-server at %s (data in %s)", socket, data_dir)
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
