"""Shared test helpers: an agent on the loopback LLM, test tools, event capture."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from agent import events as ev
from agent.config import AgentConfig
from agent.loop import Agent, Turn
from agent.session import Session
from agent.tools.plan import PLAN_TOOL
from agent.tools.registry import Tool, ToolContext, ToolRegistry
from bot.settings import Settings
from tests.standins.hub import TOKEN

RAN: list[tuple[str, dict[str, Any]]] = []
"""Every test-tool execution, in order (cleared by :func:`test_tools`)."""


async def _echo(args: dict[str, Any], ctx: ToolContext) -> str:
    RAN.append(("echo", args))
    return f"echo: {args.get('text', '')}"


async def _slow(args: dict[str, Any], ctx: ToolContext) -> str:
    RAN.append(("slow", args))
    await asyncio.sleep(float(args.get("seconds", 30)))
    return "slow done"


async def _fake_jobs(args: dict[str, Any], ctx: ToolContext) -> str:
    RAN.append(("hf_jobs", args))
    return f"job submitted with script: {args.get('script', '')}"


class _Rendezvous:
    """Calls of the ``meet`` tool return "met" only if ``n`` of them run at the same time."""

    def __init__(self) -> None:
        self.inside = 0
        self.all_in = asyncio.Event()

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> str:
        RAN.append(("meet", args))
        self.inside += 1
        if self.inside >= int(args["n"]):
            self.all_in.set()
        try:
            await asyncio.wait_for(self.all_in.wait(), 5)
        except TimeoutError:
            return "alone"
        return "met"


OBJECT = {"type": "object", "properties": {}}


def test_tools() -> ToolRegistry:
    """A plan tool, echo, slow and meet tools, and an ``hf_jobs`` double with a script."""
    RAN.clear()
    return ToolRegistry(
        [
            PLAN_TOOL,
            Tool("echo", "Echo text back.", OBJECT, _echo),
            Tool("slow", "Sleep for a while.", OBJECT, _slow),
            Tool("meet", "Wait for the other calls.", OBJECT, _Rendezvous()),
            Tool("hf_jobs", "Run a job (test double).", OBJECT, _fake_jobs, script_field="script"),
        ]
    )


test_tools.__test__ = False  # not a test, despite the name


async def eventually(predicate: Any, within: float = 10.0) -> None:
    """Poll until ``predicate()`` holds (for state that lives in another server); an async
    predicate is awaited."""
    async with asyncio.timeout(within):
        while not await _holds(predicate()):
            await asyncio.sleep(0.01)


async def _holds(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def agent_config(llm: Any, **overrides: Any) -> AgentConfig:
    return AgentConfig(
        model="openai/test-model",
        api_base=llm.base_url,
        api_key="sk-test",
        llm_retries=0,
        llm_timeout=30,
        **overrides,
    )


def make_agent(llm: Any, tools: ToolRegistry | None = None, **overrides: Any) -> Agent:
    return Agent(agent_config(llm, **overrides), tools or test_tools())


class Recorder:
    """A turn whose events are kept in a list."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.checkpoints = 0
        self.turn = Turn(emit=self.emit, checkpoint=self.checkpoint)

    async def emit(self, event: ev.Event) -> None:
        self.events.append(event)

    async def checkpoint(self) -> None:
        self.checkpoints += 1

    def of(self, kind: type[ev.Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def types(self) -> list[str]:
        return [e.type for e in self.events]

    def text(self) -> str:
        return "".join(e.content for e in self.of(ev.AssistantChunk))


def assert_history_valid(session: Session) -> None:
    """Every assistant tool call has exactly one result, after it."""
    seen_calls: set[str] = set()
    results: dict[str, int] = {}
    for message in session.history:
        for tc in message.get("tool_calls") or []:
            seen_calls.add(tc["id"])
        if message.get("role") == "tool":
            assert message["tool_call_id"] in seen_calls, "tool result before its call"
            results[message["tool_call_id"]] = results.get(message["tool_call_id"], 0) + 1
    pending = set(session.pending.ids()) if session.pending else set()
    for call_id in seen_calls - pending:
        assert results.get(call_id) == 1, (
            f"tool call {call_id} has {results.get(call_id, 0)} results"
        )


class RecordingSurface:
    """A chat thread in memory: what a platform would show, and every call made to it."""

    def __init__(self, max_chars: int = 4000, interval: float = 0.0) -> None:
        from bot.platform import RateGate

        self.max_chars = max_chars
        self.gate = RateGate(interval)
        self.calls: list[tuple[str, Any]] = []
        self.messages: dict[str, str] = {}
        self.final: set[str] = set()
        self.lines: dict[str, str] = {}
        self.approvals: list[ev.ApprovalRequired] = []
        self.notices: list[str] = []
        self.fail_next: list[Exception] = []

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def post(self, text: str, *, final: bool = False) -> str:
        self._maybe_fail()
        ref = f"m{len(self.messages) + len(self.lines) + 1}"
        self.calls.append(("post", text))
        self.messages[ref] = text
        if final:
            self.final.add(ref)
        return ref

    async def edit(self, ref: str, text: str, *, final: bool = False) -> None:
        self._maybe_fail()
        self.calls.append(("edit", text))
        self.messages[ref] = text
        if final:
            self.final.add(ref)

    async def post_line(self, ref: str | None, text: str) -> str:
        self._maybe_fail()
        ref = ref or f"l{len(self.messages) + len(self.lines) + 1}"
        self.calls.append(("line", text))
        self.lines[ref] = text
        return ref

    async def post_approval(self, event: ev.ApprovalRequired) -> dict[str, Any]:
        self.calls.append(("approval", event.approval_id))
        self.approvals.append(event)
        return {"card": f"a{len(self.approvals)}"}

    async def post_notice(self, text: str) -> None:
        self.calls.append(("notice", text))
        self.notices.append(text)

    def transcript(self) -> str:
        """The text of every answer message, in order."""
        return "".join(self.messages.values())


def hub_bot_settings(
    hub: Any, llm: Any, redis_url: str, data_dir: Any, **overrides: Any
) -> Settings:
    """A bot's settings on the loopback LLM and Hub stand-ins (the Hub's token), plus
    ``overrides``."""
    return Settings(
        _env_file=None,
        redis_url=redis_url,
        data_dir=data_dir,
        model="openai/test-model",
        llm_api_base=llm.base_url,
        llm_api_key="sk-test",
        llm_retries=0,
        hf_endpoint=hub.url,
        hf_token=TOKEN,
        **overrides,
    )
