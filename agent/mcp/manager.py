"""Every configured MCP server, connected for the life of an ``async with`` block."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable, Mapping

from agent.mcp.config import ServerConfig
from agent.mcp.server import McpServer, McpTiming
from agent.tools.registry import ToolRegistry

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0


class McpManager:
    """Opens every server at once; entering waits up to ``startup_timeout`` for the first
    attempts, so tools of servers that are up are registered before the first turn. Servers
    that are down keep retrying in the background and add their tools when they come up."""

    def __init__(
        self,
        configs: Iterable[ServerConfig],
        registry: ToolRegistry,
        *,
        environ: Mapping[str, str] | None = None,
        timing: McpTiming | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        env = os.environ if environ is None else environ
        self.servers = [McpServer(c, registry, env, timing or McpTiming()) for c in configs]
        self.startup_timeout = startup_timeout
        self._tasks: list[asyncio.Task[None]] = []

    def server(self, name: str) -> McpServer:
        return next(s for s in self.servers if s.name == name)

    async def __aenter__(self) -> McpManager:
        self._tasks = [
            asyncio.create_task(s.run(), name=f"mcp server {s.name}") for s in self.servers
        ]
        settled = asyncio.gather(*(s.settled.wait() for s in self.servers))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settled, self.startup_timeout)
        for server in self.servers:
            if not server.settled.is_set():
                logger.warning("MCP server %s is still connecting", server.name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in reversed(self.servers):
            server.close()
        if not self._tasks:
            return
        _, stuck = await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT)
        for task in stuck:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
