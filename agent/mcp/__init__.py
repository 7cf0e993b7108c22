"""Tools from Model Context Protocol servers, offered to the model beside the built-in ones.

The server side (and the MCP SDK, slow to import) loads on first use: a bot with no MCP
server configured never imports it.
"""

from typing import Any

from agent.mcp.config import McpConfigError, ServerConfig, load_servers
from agent.mcp.manager import McpManager

__all__ = [
    "McpConfigError",
    "McpManager",
    "McpServer",
    "McpTiming",
    "ServerConfig",
    "approval_rule",
    "load_servers",
]


def __getattr__(name: str) -> Any:
    if name in ("McpServer", "McpTiming", "approval_rule"):
        from agent.mcp import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
