"""A test MCP server: a read-only, a destructive and a slow tool, and a few result shapes.

Run it over stdio (``python -m tests.standins.mcp_server``) or as streamable HTTP on a
loopback port (``--http PORT``), where ``--token`` makes it refuse any request without
``Authorization: Bearer <token>``. Every call is appended to the file named by
``--log`` (one ``<event> <detail>`` line each), so tests can see what really ran,
including a slow call the client cancelled.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import ToolAnnotations

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4c50000000049454e44ae426082"
)


def build_server(log: Path) -> MCPServer:
    server = MCPServer("standin")

    def record(line: str) -> None:
        with log.open("a") as f:
            f.write(line + "\n")

    record(f"pid {os.getpid()}")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def lookup(query: str) -> str:
        """Look something up (read-only)."""
        record(f"lookup {query}")
        return f"found: {query}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
    def wipe(target: str) -> str:
        """Delete a target for good (destructive)."""
        record(f"wipe {target}")
        return f"wiped {target}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    async def slow(seconds: float) -> str:
        """Sleep, then answer."""
        record(f"slow-start {seconds}")
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            record("slow-cancelled")
            raise
        record("slow-done")
        return "slow done"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def picture() -> list:
        """A caption and a one-pixel image."""
        return ["a red dot", Image(data=PNG_1PX, format="png")]

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def big(size: int) -> str:
        """An oversize answer."""
        return "x" * size

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def broken() -> str:
        """Always fails."""
        raise ValueError("the standin is broken on purpose")

    @server.tool()
    def touch(name: str) -> str:
        """No annotations at all."""
        record(f"touch {name}")
        return f"touched {name}"

    return server


def require_bearer(app, token: str):
    """Wrap an ASGI app so that HTTP requests need ``Authorization: Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope, receive, send):
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--http", type=int, help="serve streamable HTTP on this loopback port")
    parser.add_argument("--token", help="bearer token the HTTP server requires")
    args = parser.parse_args()
    server = build_server(args.log)
    if args.http is None:
        server.run("stdio")
        return
    app = server.streamable_http_app()
    if args.token:
        app = require_bearer(app, args.token)
    uvicorn.run(app, host="127.0.0.1", port=args.http, log_level="warning")


if __name__ == "__main__":
    main()
