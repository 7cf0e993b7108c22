"""Tools from Model Context Protocol servers, offered to the model beside the built-in ones."""

from agent.mcp.config import McpConfigError, ServerConfig, load_servers
from agent.mcp.manager import McpManager
from agent.mcp.server import McpServer, McpTiming, approval_rule

__all__ = [
    "McpConfigError",
    "McpManager",
    "McpServer",
    "McpTiming",
    "ServerConfig",
    "approval_rule",
    "load_servers",
]
