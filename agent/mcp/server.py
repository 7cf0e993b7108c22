"""One MCP server: connected once, kept alive, reconnected with backoff, its tools registered.

Uses the official ``mcp`` client SDK. A connection lives in one supervisor task
(:meth:`McpServer.run`), because the SDK's transports are anyio task groups that
must be entered and left by the same task; tool calls from other tasks share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from agent.mcp.config import McpConfigError, ServerConfig
from agent.mcp.results import render_result
from agent.policy import Approval
from agent.tools.registry import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from agent.waiting import wait_at_most

logger = logging.getLogger(__name__)

SEPARATOR = "__"
MAX_TOOL_NAME = 64
"""Longest function name the model APIs accept."""
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class McpTiming:
    retry_first: float = 0.5
    """Seconds before the first reconnection attempt; doubled on each failure."""
    retry_max: float = 30.0
    health_interval: float = 30.0
    """Seconds between liveness checks (a tools listing) of an idle connection."""
    call_wait: float = 10.0
    """Seconds a call waits for a reconnecting server before reporting it unavailable."""

    def retry_delay(self, attempt: int) -> float:
        return min(self.retry_max, self.retry_first * 2**attempt)


def approval_rule(config: ServerConfig, tool: types.Tool) -> Approval:
    """The file's rule for this tool, else its annotations: only read-only tools run unasked.

    MCP's defaults make an unannotated tool potentially destructive, so it waits for a
    person. A rule from the team rules file, when it exists, would be consulted here first.
    """
    rule = config.tool_approval.get(tool.name) or config.approval
    if rule:
        return rule
    read_only = bool(tool.annotations and tool.annotations.read_only_hint)
    return "never" if read_only else "always"


@contextlib.asynccontextmanager
async def _streamable_http(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


def _describe(exc: BaseException, secrets: list[str]) -> str:
    """The innermost error, on one line, with any configured secret blanked out."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class McpServer:
    """A server's connection and tools; :meth:`run` keeps it up until :meth:`close`."""

    def __init__(
        self,
        config: ServerConfig,
        registry: ToolRegistry,
        environ: Mapping[str, str],
        timing: McpTiming,
    ) -> None:
        self.config = config
        self.registry = registry
        self.environ = environ
        self.timing = timing
        self.tool_names: list[str] = []
        """Registered names of this server's tools."""
        self._seen: set[str] = set()
        self.error: str | None = None
        self.connects = 0
        self.settled = asyncio.Event()
        """Set once the first connection attempt has succeeded or failed."""
        self._client: Client | None = None
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._broken = False
        self._closing = False
        self._attempt = 0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def connected(self) -> bool:
        return self._client is not None

    def close(self) -> None:
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """Connect, serve, and reconnect with backoff until closed or misconfigured."""
        while not self._closing:
            try:
                await self._serve()
            except McpConfigError as exc:
                self._down(str(exc))
                logger.error("%s; its tools are absent", exc)
                return
            except Exception as exc:
                self._down(_describe(exc, self.config.secrets(self.environ)))
                logger.warning(
                    "MCP server %s (%s) unavailable: %s; its tools are absent until it reconnects",
                    self.name,
                    self.config.where,
                    self.error,
                )
            if not self._closing:
                await self._sleep(self.timing.retry_delay(self._attempt))
                self._attempt += 1

    async def call(self, tool: str, args: dict[str, Any]) -> ToolResult:
        """Call a tool of this server; a lost connection is reported and repaired."""
        client = await self._ready_client()
        try:
            result = await client.call_tool(tool, args, read_timeout_seconds=self.config.timeout)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise ToolError(f"MCP server '{self.name}': {exc.message}") from exc
            self._lost(client)
            raise ToolError(
                f"the connection to MCP server '{self.name}' closed during the call, so it "
                "may not have run; the server is reconnecting, retry in a moment"
            ) from exc
        return render_result(result)

    # ── connection ───────────────────────────────────────────────────────

    def _target(self) -> Any:
        config = self.config.expanded(self.environ)
        if config.transport == "stdio":
            return StdioServerParameters(
                command=config.command or "", args=config.args, env=config.env, cwd=config.cwd
            )
        if config.transport == "sse":
            return sse_client(config.url or "", headers=config.headers)
        return _streamable_http(config.url or "", config.headers)

    async def _serve(self) -> None:
        async with Client(self._target(), cache=None) as client:
            await self._register(client)
            self._client, self.error, self._broken, self._attempt = client, None, False, 0
            self.connects += 1
            self._ready.set()
            self.settled.set()
            logger.info(
                "MCP server %s (%s) connected: %d tools",
                self.name,
                self.config.where,
                len(self.tool_names),
            )
            try:
                while True:
                    await self._sleep(self.timing.health_interval)
                    if self._closing:
                        return
                    if self._broken:
                        raise ConnectionError("the connection closed")
                    await asyncio.wait_for(self._register(client), self.timing.health_interval)
            finally:
                self._client = None
                self._ready.clear()

    def _down(self, error: str) -> None:
        self._client = None
        self._ready.clear()
        self.error = error
        self.settled.set()

    def _lost(self, client: Client) -> None:
        if self._client is client:
            self._client = None
            self._ready.clear()
            self._broken = True
            self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less when closed or a call found the connection lost."""
        await wait_at_most(self._wake, seconds)
        self._wake.clear()

    async def _ready_client(self) -> Client:
        if self._client is None and not self._closing:
            await wait_at_most(self._ready, self.timing.call_wait)
        if self._client is None:
            raise ToolError(
                f"MCP server '{self.name}' is unavailable ({self.error or 'not connected'}); "
                "try again later"
            )
        return self._client

    # ── tools ────────────────────────────────────────────────────────────

    async def _register(self, client: Client) -> None:
        """Add the server's tools not registered yet (new ones appear on later listings)."""
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor)
            for remote in page.tools:
                self._add(remote)
            cursor = page.next_cursor
            if not cursor:
                return

    def _add(self, remote: types.Tool) -> None:
        if remote.name in self._seen:
            return
        self._seen.add(remote.name)
        name = f"{self.name}{SEPARATOR}{UNSAFE_NAME_CHARS.sub('_', remote.name)}"
        if len(name) > MAX_TOOL_NAME or self.registry.get(name) is not None:
            logger.warning("MCP tool %s left out: name too long or already taken", name)
            return
        self.registry.add(
            Tool(
                name=name,
                description=remote.description or remote.title or remote.name,
                parameters=remote.input_schema,
                handler=self._handler(remote.name),
                approval=approval_rule(self.config, remote),
            )
        )
        self.tool_names.append(name)

    def _handler(self, remote_name: str) -> Any:
        async def handle(args: dict[str, Any], ctx: ToolContext) -> ToolResult:
            return await self.call(remote_name, args)

        return handle
