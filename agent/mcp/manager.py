"""Every configured MCP server, connected for the life of an ``async with`` block."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from agent.mcp.config import ServerConfig
from agent.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from agent.mcp.server import McpServer, McpTiming

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0


def _servers(
    configs: list[ServerConfig],
    registry: ToolRegistry,
    env: Mapping[str, str],
    timing: McpTiming | None,
) -> list[McpServer]:
    """A server per config; the MCP SDK (~0.3 s to import) only when one is configured."""
    if not configs:
        return []
    from agent.mcp.server import McpServer, McpTiming

    return [McpServer(c, registry, env, timing or McpTiming()) for c in configs]


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
        self.servers = _servers(list(configs), registry, env, timing)
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
