"""The ``research`` tool: a sub-agent with its own context and only tools that read.

The main agent hands it a question; it runs the same loop (:class:`agent.loop.Agent`) on a
fresh history with the read-only tools of the main registry (docs, papers, datasets,
GitHub, the web, Hub reads, the sandbox's ``read``) and returns only its summary, so the
pages it read never fill the main context. A call to any other tool is refused inside it
with a tool error, and nothing in it ever waits for approval. Its tool calls show as the
progress of the parent's call (:class:`agent.events.ToolProgress`); it talks to the same
model client as the parent, and its model calls count in the turn's usage
(:meth:`agent.usage.Usage.part`). Limits on model calls, tokens, cost and time end it
early: it then summarises what it found so far. Its cost is capped by ``max_usd`` and by
what the turn may still spend (its thread's budget), whichever is less.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from agent import events as ev
from agent.config import AgentConfig
from agent.loop import Agent
from agent.policy import Approval
from agent.session import Session
from agent.tools.registry import Tool, ToolContext, ToolError, ToolRegistry, ToolResult
from agent.turn import Turn
from agent.usage import Usage

NAME = "research"
REFUSED = (
    "ERROR: '{}' is not available to research: it may only use tools that read (nothing "
    "ran). Say in your summary what the main agent should do instead."
)
PROMPT = """\
You are a research assistant to an ML engineer's agent. Answer the task you are given by
reading: current library docs, example scripts, papers, dataset formats, the web. You
can only read; you cannot run code, start jobs or change anything.

Work quickly: a few well-aimed tool calls, not an exhaustive survey. Prefer primary
sources (the library's docs and its own example scripts at their current version) over
blog posts. When you are done, answer with a concise summary for the agent that asked:
the facts it needs (exact argument names, API calls, column names, versions), a short
code sketch if it helps, and the URLs or file paths you read, so it can cite them.
Say what you could not find.

Tools you have: {tools}.
"""
WRAP_UP = (
    "Stop researching now ({}). Reply with your summary of what you found so far, with "
    "the URLs and paths you read, and what is still open."
)
PROGRESS_CHARS = 160


@dataclass(frozen=True)
class ResearchLimits:
    max_iterations: int = 15
    """Model calls of one research task at most."""
    max_tokens: int = 120_000
    """Tokens its model calls may use in all (prompt and reply, as the provider counts)."""
    max_seconds: float = 300.0
    max_usd: float | None = None
    """USD its model calls may cost (where the model's price is known); None: only the
    turn's budget, if its thread has one, caps it."""


class ReadOnlyTools(ToolRegistry):
    """The tools of a registry that only read; any other call is refused, nothing waits."""

    def __init__(self, tools: ToolRegistry, leave_out: str = NAME) -> None:
        every = (tools.get(name) for name in tools.names() if name != leave_out)
        super().__init__(t for t in every if t and (t.read_only or t.read_operations))

    def approval(self, name: str) -> Approval | None:
        return "never"  # a call that is not a read is refused by ``call`` instead

    async def call(self, name: str, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        tool = self.get(name)
        if tool is None or not tool.reads_only(args):
            operation = args.get("operation")
            shown = f"{name} {operation}" if isinstance(operation, str) else name
            return ToolResult(REFUSED.format(shown), False)
        return await super().call(name, args, ctx)

    def describe(self) -> str:
        """The tools by name, a mixed tool with the operations it may use."""
        tools = (self.get(name) for name in self.names())
        return ", ".join(
            t.name if t.read_only else f"{t.name} ({', '.join(sorted(t.read_operations))} only)"
            for t in tools
            if t
        )


def progress_line(event: ev.Event) -> str | None:
    """One line of the sub-agent's work for the parent's tool card."""
    match event:
        case ev.ToolCall(tool=tool, arguments=arguments):
            facts = [str(v) for v in arguments.values() if isinstance(v, str | int)][:2]
            return _clip(" · ".join([f"→ {tool}", *facts]))
        case ev.ToolOutput(tool=tool, output=output, success=ok):
            first = next((ln.strip() for ln in output.splitlines() if ln.strip()), "")
            return _clip(f"{'✓' if ok else '✗'} {tool}: {first}")
        case ev.Error(error=error):
            return _clip(f"✗ {error}")
    return None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _clip(text: str) -> str:
    return text if len(text) <= PROGRESS_CHARS else text[: PROGRESS_CHARS - 1] + "…"


class ResearchTool:
    """``research``: runs a sub-agent over the read-only tools of ``tools`` (looked up at
    each call, so MCP tools added later count too)."""

    def __init__(
        self, tools: ToolRegistry, config: AgentConfig, limits: ResearchLimits | None = None
    ) -> None:
        self.tools = tools
        self.config = config
        self.limits = limits or ResearchLimits()

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> str:
        task = str(args.get("task") or "").strip()
        if not task:
            raise ToolError("Give the research task: a question, with what you know already.")
        if ctx.llm is None:
            raise ToolError("research needs the agent's model, which this call was not given.")
        view = ReadOnlyTools(self.tools)
        config = dataclasses.replace(
            self.config,
            max_iterations=self.limits.max_iterations,
            system_prompt=PROMPT.format(tools=view.describe() or "none"),
        )
        agent = Agent(config, view, llm=ctx.llm)
        session = Session(key=ctx.session.key, state=ctx.session.state)  # its sandbox, read
        run = _Run(ctx, session, self.limits)
        timer = asyncio.get_running_loop().call_later(
            self.limits.max_seconds, run.stop, f"{self.limits.max_seconds:g} s passed"
        )
        try:
            await agent.run(session, task, run.turn)
        finally:
            timer.cancel()
        summary = run.answer()
        if summary is None:
            summary = await run.wrap_up(agent)
        return f"{summary}\n\n[research: {run.footer()}]"

    def tool(self) -> Tool:
        return Tool(
            name=NAME,
            description=(
                "Hand a research question to a sub-agent with its own context: it reads docs, "
                "example scripts, papers, dataset formats and the web, and returns only a "
                "summary with its sources. Use it for anything that needs several pages read "
                "(e.g. 'How does TRL's current DPOTrainer take a preference dataset? Find "
                "the example script and the config arguments'); it cannot run or change "
                "anything."
            ),
            parameters={
                "type": "object",
                "properties": {
                    "task": {
                        "type": "string",
                        "description": "The question, with the context it needs.",
                    }
                },
                "required": ["task"],
            },
            handler=self.run,
            read_only=True,
        )


class _Run:
    """One research task's turn: its steps shown as the parent call's progress, its limits."""

    def __init__(self, ctx: ToolContext, session: Session, limits: ResearchLimits) -> None:
        self.ctx = ctx
        self.session = session
        self.limits = limits
        self.usage = (ctx.usage or Usage()).part(cap_usd=limits.max_usd)
        self.turn = Turn(
            emit=self.emit, checkpoint=self.checkpoint, spawn=ctx.spawn, usage=self.usage
        )
        self.tool_calls = 0
        self.model_calls = 0
        self.stopped: str | None = None
        self.error: str | None = None

    def stop(self, reason: str) -> None:
        if self.stopped is None:
            self.stopped = reason
        self.turn.cancel.set()

    async def emit(self, event: ev.Event) -> None:
        match event:
            case ev.ToolCall():
                self.tool_calls += 1
            case ev.AssistantStreamEnd():
                self.model_calls += 1
            case ev.Error(error=error):
                self.error = error
        if (line := progress_line(event)) is not None:
            await self.ctx.progress(line)

    async def checkpoint(self) -> None:
        """After each step: stop once its tokens or its cost reach a limit."""
        if self.usage.total_tokens >= self.limits.max_tokens:
            self.stop(f"{self.limits.max_tokens:,} tokens used")
        elif (left := self.usage.left_usd()) is not None and left <= 0:
            self.stop(f"cost limit reached, ${self.usage.cost_usd:.4f} spent")

    def answer(self) -> str | None:
        """The sub-agent's own final answer, when it ended on one."""
        last = self.session.history[-1] if self.session.history else {}
        if self.stopped or last.get("role") != "assistant" or last.get("tool_calls"):
            return None
        return str(last.get("content") or "").strip() or None

    async def wrap_up(self, agent: Agent) -> str:
        """Ask the model for a summary of what was read before a limit or error ended it."""
        reason = self.stopped or self.error or "it ended without a summary"
        if self.usage.calls == 0:  # stopped before it began: the turn's budget is spent
            raise ToolError(f"research did not run ({reason}).")
        self.session.close_open_tool_calls("Not run: research was stopped.")
        messages = [
            {"role": "system", "content": agent.config.system_prompt},
            *self.session.history,
            {"role": "user", "content": WRAP_UP.format(reason)},
        ]
        try:
            summary = await agent.llm.complete(messages, usage=self.usage)
            return summary.strip() or f"No summary ({reason})."
        except Exception as exc:  # the model failed again: say so, as a tool error
            raise ToolError(
                f"research ended early ({reason}) and could not summarise: {exc}"
            ) from None

    def footer(self) -> str:
        usage = self.usage
        facts = (
            f"{_count(self.tool_calls, 'tool call')}, {_count(self.model_calls, 'model call')}, "
        )
        facts += f"{usage.total_tokens:,} tokens"
        if usage.unpriced < usage.calls:
            facts += f", ${usage.cost_usd:.4f}"
        return f"{facts}; stopped: {self.stopped}" if self.stopped else facts
