"""Tool registry: JSON-schema specs the model sees, and bounded, failure-safe calls."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.events import Event
from agent.policy import Approval
from agent.session import Session

if TYPE_CHECKING:
    from agent.llm import LLMClient
    from agent.usage import Usage

logger = logging.getLogger(__name__)

MAX_OUTPUT_CHARS = 20_000


@dataclass(frozen=True)
class ToolResult:
    output: str
    success: bool = True
    attachments: tuple[dict[str, str], ...] = ()
    """Files for people, not the model: ``{filename, mime_type, data}`` (base64)."""


class ToolError(Exception):
    """A failure the model should read: its message becomes the tool result."""


Notify = Callable[[Event], Awaitable[None]]


async def _discard(event: Event) -> None:
    return None


async def _unshown(text: str) -> None:
    return None


@dataclass
class ToolContext:
    """What a tool may use besides its arguments."""

    session: Session
    tool_call_id: str = ""
    notify: Notify = _discard
    """Sends an event to the conversation's front end, also after the turn ended."""
    spawn: Callable[[Awaitable[Any]], Any] = field(default=asyncio.ensure_future)
    """Starts background work owned by the runtime (e.g. watching a job)."""
    progress: Callable[[str], Awaitable[None]] = _unshown
    """Shows how the call is getting on in its own line or step (a Space building)."""
    llm: LLMClient | None = None
    """The model the calling agent talks to (a sub-agent talks to it too)."""
    usage: Usage | None = None
    """The running turn's model use, which a sub-agent's calls count in too."""


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable["ToolResult | str"]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    handler: ToolHandler
    script_field: str | None = None
    """Argument holding an editable script (shown on approval cards, edited in modals)."""
    preview: Callable[[dict[str, Any], ToolContext], Awaitable[dict[str, Any]]] | None = None
    """Arguments as an approver should see them (e.g. a sandbox script path resolved)."""
    resume: Callable[[dict[str, Any], ToolContext], Awaitable[None]] | None = None
    """Restarts background work the tool left (a job watch) after the bot restarted."""
    approval: Approval | None = None
    """Whether every call waits for a person (MCP tools); ``None``: the built-in policy decides."""
    read_only: bool = False
    """Only reads: changes nothing, costs nothing (the ``research`` sub-agent may call it)."""
    read_operations: frozenset[str] = frozenset()
    """The ``operation`` values that only read, on a tool whose other operations change things."""

    def reads_only(self, args: dict[str, Any]) -> bool:
        """This call only reads: the tool is read-only, or the operation is one of its reads."""
        return self.read_only or args.get("operation") in self.read_operations

    def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def truncate(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Keep the head and tail of an oversize output, saying how much was cut."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    cut = len(text) - limit
    return f"{text[:head]}\n\n[... {cut} characters omitted ...]\n\n{text[-tail:]}"


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self._tools.values()]

    def script_field(self, name: str) -> str | None:
        tool = self._tools.get(name)
        return tool.script_field if tool else None

    async def resume(self, work: dict[str, Any], ctx: ToolContext) -> None:
        """Hand ``work`` (a ``JobStatus.resume``) back to the tool that started it."""
        tool = self._tools.get(work.get("tool", ""))
        if tool is None or tool.resume is None:
            logger.warning("nothing resumes background work of %r", work.get("tool"))
            return
        await tool.resume(work, ctx)

    def approval(self, name: str) -> Approval | None:
        tool = self._tools.get(name)
        return tool.approval if tool else None

    async def preview(self, name: str, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """The arguments to show on an approval card; the call's own when the tool has no preview."""
        tool = self._tools.get(name)
        if tool is None or tool.preview is None:
            return args
        try:
            return await tool.preview(args, ctx)
        except Exception:  # a preview is a nicety; never block the approval on it
            logger.exception("preview of %s failed", name)
            return args

    async def call(self, name: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        """Run a tool; unknown tools, errors and oversize output become results."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return ToolResult(f"ERROR: unknown tool '{name}'. Available tools: {known}.", False)
        try:
            result = await tool.handler(args, ctx)
        except asyncio.CancelledError:
            raise
        except ToolError as exc:
            return ToolResult(f"ERROR: {exc}", False)
        except Exception as exc:  # a tool bug must not end the turn
            logger.exception("tool %s failed", name)
            return ToolResult(f"ERROR: {name} failed: {type(exc).__name__}: {exc}", False)
        if isinstance(result, str):
            result = ToolResult(result)
        return ToolResult(truncate(result.output), result.success, result.attachments)
