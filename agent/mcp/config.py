"""The MCP_SERVERS file: which tool servers to connect and how their tools are approved."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.policy import Approval

SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class McpConfigError(ValueError):
    """The MCP_SERVERS file, or one server in it, cannot be used."""


class ServerConfig(BaseModel):
    """One server: a command spoken to over stdio, or a streamable-HTTP / SSE URL.

    ``${VAR}`` in ``args``, ``env``, ``url`` and ``headers`` is replaced from the
    environment when connecting (see :meth:`expanded`), so secrets stay out of the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: Path | None = None
    url: str | None = None
    transport: Literal["stdio", "http", "sse"] | None = None
    """``stdio`` with a command; ``http`` (streamable HTTP, the default) or ``sse`` with a URL."""
    headers: dict[str, str] = Field(default_factory=dict)
    approval: Approval | None = None
    """For every tool of this server; unset: from each tool's annotations."""
    tool_approval: dict[str, Approval] = Field(default_factory=dict)
    """Per tool, by the server's own tool name; wins over ``approval``."""
    timeout: float | None = Field(None, gt=0)
    """Seconds one call may take; unset: until the turn is stopped."""

    @model_validator(mode="after")
    def _one_transport(self) -> ServerConfig:
        if not SERVER_NAME.match(self.name):
            raise ValueError("a server name may only hold letters, digits, '_' and '-'")
        if (self.command is None) == (self.url is None):
            raise ValueError("give either 'command' (stdio) or 'url' (HTTP/SSE)")
        kind = self.transport or ("stdio" if self.command else "http")
        if (kind == "stdio") != (self.command is not None):
            raise ValueError(
                f"transport '{kind}' does not fit a server with a {'command' if self.command else 'url'}"
            )
        object.__setattr__(self, "transport", kind)
        return self

    @property
    def where(self) -> str:
        """Where the server is, safe to log: the command, or the URL without query or credentials."""
        if self.command:
            return self.command
        parts = urlsplit(self.url or "")
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"

    def _texts(self) -> list[str]:
        return [*self.args, *self.env.values(), self.url or "", *self.headers.values()]

    def secrets(self, environ: Mapping[str, str]) -> list[str]:
        """The values ``${VAR}`` references expand to, to be kept out of logs."""
        names = {name for text in self._texts() for name in ENV_REFERENCE.findall(text)}
        return [environ[name] for name in names if environ.get(name)]

    def expanded(self, environ: Mapping[str, str]) -> ServerConfig:
        """A copy with every ``${VAR}`` replaced; a variable that is not set is an error."""

        def expand(text: str) -> str:
            def value(match: re.Match[str]) -> str:
                if match[1] not in environ:
                    raise McpConfigError(
                        f"MCP server '{self.name}' uses ${{{match[1]}}}, which is not set"
                    )
                return environ[match[1]]

            return ENV_REFERENCE.sub(value, text)

        return self.model_copy(
            update={
                "args": [expand(a) for a in self.args],
                "env": {k: expand(v) for k, v in self.env.items()},
                "url": expand(self.url) if self.url else None,
                "headers": {k: expand(v) for k, v in self.headers.items()},
            }
        )


def load_servers(path: Path) -> list[ServerConfig]:
    """Read a JSON or YAML file of ``mcpServers:`` (or ``servers:``), keyed by server name."""
    try:
        text = Path(path).read_text()
        data: Any = json.loads(text) if Path(path).suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise McpConfigError(f"MCP_SERVERS ({path}): {exc}") from exc
    data = data or {}
    servers = data.get("mcpServers", data.get("servers")) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise McpConfigError(
            f"MCP_SERVERS ({path}): expected a mapping 'mcpServers: {{name: ...}}'"
        )
    out = []
    for name, fields in servers.items():
        try:
            out.append(ServerConfig(name=str(name), **(fields or {})))
        except (ValidationError, TypeError) as exc:
            raise McpConfigError(f"MCP_SERVERS ({path}), server '{name}': {exc}") from exc
    return out
