"""The agent loop: stream the model, run tools in parallel, pause for approval, resume.

A port of the behaviour of Hugging Face's ml-intern loop. The loop works on a
:class:`~agent.session.Session` in memory; the caller persists it whenever
``turn.checkpoint`` is awaited, and renders the events given to ``turn.emit``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from agent import events as ev
from agent.config import AgentConfig
from agent.context import (
    SUMMARY_INSTRUCTIONS,
    render_transcript,
    split_for_compaction,
    summary_message,
    undo_last_turn,
)
from agent.llm import (
    ContextWindowExceededError,
    LLMClient,
    LLMReply,
    describe_llm_error,
    make_llm_client,
    parse_arguments,
    stream_reply,
)
from agent.policy import call_needs_approval, validate_tool_args
from agent.prompt import system_prompt
from agent.session import PendingApproval, Session, tool_message
from agent.tools.registry import ToolContext, ToolRegistry, ToolResult
from agent.turn import Decision, Turn, TurnCancelled, sanitise_feedback, until_cancelled

logger = logging.getLogger(__name__)


INTERRUPTED = "Interrupted: the user stopped the turn before this tool finished."
ABANDONED = "Task abandoned — user continued the conversation without approving."
REJECTED = "Job execution cancelled by user"
EXPIRED = (
    "Not run: the approval request expired without a decision. Ask the user before trying again."
)
EDITED_NOTE = (
    "[Note: The user edited the script before execution. The output below reflects the "
    "user-modified version, not your original script.]\n\n"
)
CONTEXT_FULL = (
    "The conversation no longer fits the model's context window, even after compaction. "
    "Start a new session or undo the last message."
)
TOO_MANY_STEPS = "Stopped after {} steps without a final answer. Send a message to let me continue."
TRUNCATED_NOTE = (
    "Your previous reply hit the output length limit, so its tool calls were cut off and "
    "NOT executed. Retry with smaller arguments (split big files or scripts into parts)."
)


Step = Literal["done", "continue", "paused"]


@dataclass
class _Call:
    """A parsed tool call about to run."""

    raw: dict[str, Any]
    args: dict[str, Any]
    edited: bool = False

    @property
    def id(self) -> str:
        return self.raw["id"]

    @property
    def name(self) -> str:
        return self.raw["function"]["name"]


class Agent:
    def __init__(
        self, config: AgentConfig, tools: ToolRegistry, llm: LLMClient | None = None
    ) -> None:
        self.config = config
        self.tools = tools
        self.llm = llm or make_llm_client(config)
        self._prompt: tuple[tuple[str, ...], str] | None = None
        self._by_model: dict[str, Agent] = {config.model: self}
        """This agent and its siblings on other models (:meth:`for_model`), shared by all."""

    def for_model(self, model: str | None) -> Agent:
        """This agent answering with ``model`` (a LiteLLM name) instead of the configured one.

        Same tools and settings; the model's own LLM client, made once and kept, so its
        calls, token counts, context window and compaction are the model's. ``None`` or
        the configured model is this agent itself.
        """
        if not model or model == self.config.model:
            return self
        sibling = self._by_model.get(model)
        if sibling is None:
            sibling = Agent(dataclasses.replace(self.config, model=model), self.tools)
            sibling._by_model = self._by_model
            self._by_model[model] = sibling
        return sibling

    async def aclose(self) -> None:
        """Release the connections of this agent's LLM client and of its siblings'."""
        for agent in list(self._by_model.values()):
            close = getattr(agent.llm, "aclose", None)
            if close is not None:
                await close()

    # ── public operations ────────────────────────────────────────────────

    async def run(self, session: Session, text: str | list[dict[str, Any]], turn: Turn) -> None:
        """A user message: abandon any pending approval, then loop until done or paused.

        ``text`` is the message's content: a string, or OpenAI-style parts (a text
        part, then ``image_url`` parts) as :func:`bot.attachments.ingest` makes them.
        """
        if session.pending:
            await self._abandon_pending(session, turn)
        if text:
            session.history.append({"role": "user", "content": text})
        await turn.checkpoint()
        await turn.emit(ev.Processing())
        await self._loop(session, turn)

    async def resume(self, session: Session, decisions: list[Decision], turn: Turn) -> None:
        """Apply people's decisions on the pending tool calls, run the approved ones, go on."""
        pending = session.pending
        if pending is None:
            await turn.emit(ev.Error(error="There is no pending approval to decide."))
            return
        by_id = {d["tool_call_id"]: d for d in decisions}
        approved: list[_Call] = []
        rejected: list[tuple[dict[str, Any], Decision]] = []
        for raw in pending.tool_calls:
            decision = by_id.get(raw["id"], {"approved": False})
            args, _ = parse_arguments(raw["function"]["arguments"])
            if decision.get("approved") and args is not None:
                call = _Call(raw, args)
                field_name = self.tools.script_field(call.name)
                edited = decision.get("edited_script")
                if edited and field_name and field_name in args:
                    call.args = {**args, field_name: edited}
                    call.edited = True
                approved.append(call)
            else:
                rejected.append((raw, decision))
        session.pending = None
        for call in approved:
            await turn.emit(
                ev.ToolStateChange(tool_call_id=call.id, tool=call.name, state="approved")
            )
        for raw, decision in rejected:
            name, output = raw["function"]["name"], self._rejection_text(decision)
            session.history.append(tool_message(raw, output))
            state = "expired" if decision.get("expired") else "rejected"
            await turn.emit(ev.ToolStateChange(tool_call_id=raw["id"], tool=name, state=state))
            await turn.emit(
                ev.ToolOutput(tool=name, tool_call_id=raw["id"], output=output, success=False)
            )
        await turn.checkpoint()
        for call in approved:
            await turn.emit(
                ev.ToolStateChange(tool_call_id=call.id, tool=call.name, state="running")
            )
        if approved and await self._run_tools(session, approved, turn):
            await self._end_interrupted(session, turn)
            return
        await self._loop(session, turn)

    async def undo(self, session: Session, turn: Turn) -> None:
        removed = undo_last_turn(session)
        await turn.checkpoint()
        await turn.emit(ev.UndoComplete(removed=removed))

    async def compact(self, session: Session, turn: Turn, *, force: bool = True) -> None:
        """Summarise older turns; without ``force`` only when near the context window."""
        old = self.llm.count_tokens(self._messages(session))
        limit = self.llm.context_window()
        if not force and old < limit * self.config.compact_threshold:
            session.context_tokens = old
            return
        older, recent = split_for_compaction(session.history, self.config.keep_recent_turns)
        if not older:
            return
        summary = await self.llm.complete(
            [
                {"role": "system", "content": SUMMARY_INSTRUCTIONS},
                {"role": "user", "content": render_transcript(older)},
            ],
            usage=turn.usage,
        )
        session.history = [summary_message(summary), *recent]
        new = self.llm.count_tokens(self._messages(session))
        session.context_tokens = new
        await turn.checkpoint()
        await turn.emit(ev.Compacted(old_tokens=old, new_tokens=new))

    # ── the loop ─────────────────────────────────────────────────────────

    async def _loop(self, session: Session, turn: Turn) -> None:
        overflow_retried = False
        for _ in range(self.config.max_iterations):
            if turn.cancelled:
                break
            try:
                await self.compact(session, turn, force=False)
                reply = await self._stream(session, turn)
            except TurnCancelled:
                break
            except ContextWindowExceededError:
                if overflow_retried:
                    await self._fail(session, turn, CONTEXT_FULL)
                    return
                overflow_retried = True
                await self.compact(session, turn, force=True)
                continue
            except Exception as exc:  # provider errors end the turn readably
                logger.warning("LLM call failed: %s", exc)
                await self._fail(session, turn, describe_llm_error(exc))
                return
            if reply.total_tokens:
                session.context_tokens = reply.total_tokens
            step = await self._handle_reply(session, reply, turn)
            if step == "paused":
                return
            if step == "done" or turn.cancelled:
                break
        else:
            await self._fail(session, turn, TOO_MANY_STEPS.format(self.config.max_iterations))
            return
        if turn.cancelled:
            await self._end_interrupted(session, turn)
            return
        session.turns += 1
        await turn.checkpoint()
        await turn.emit(ev.TurnComplete(history_size=len(session.history)))

    async def _stream(self, session: Session, turn: Turn) -> LLMReply:
        reply = LLMReply()

        async def on_text(text: str) -> None:
            await turn.emit(ev.AssistantChunk(content=text))

        messages = self._messages(session)

        async def consume() -> None:
            stream = await self.llm.stream(messages, self.tools.specs())
            await stream_reply(stream, reply, on_text)

        try:
            await until_cancelled(consume(), turn.cancel)
        except TurnCancelled:
            if reply.content:  # keep what the user already saw
                session.history.append({"role": "assistant", "content": reply.content})
            if reply.content or reply.tool_calls:  # the model had begun: the call is billed
                self._count_usage(turn, messages, reply)
            await turn.emit(ev.AssistantStreamEnd())
            raise
        self._count_usage(turn, messages, reply)
        await turn.emit(ev.AssistantStreamEnd())
        return reply

    def _count_usage(self, turn: Turn, messages: list[dict[str, Any]], reply: LLMReply) -> None:
        """Count a call in the turn's model use: as the provider counted it, else (a stream
        stopped before its usage chunk, a provider that sends none) as LiteLLM estimates."""
        prompt, completion = reply.prompt_tokens, reply.completion_tokens
        if not (prompt or completion):
            calls = reply.ordered_tool_calls()
            said = reply.content + "".join(c["function"]["arguments"] for c in calls)
            prompt = self.llm.count_tokens(messages)
            completion = self.llm.count_tokens([{"role": "assistant", "content": said}])
        self.llm.record_usage(turn.usage, prompt, completion)

    async def _handle_reply(self, session: Session, reply: LLMReply, turn: Turn) -> Step:
        """Record the reply and run its tools; say whether the loop goes on."""
        tool_calls = reply.ordered_tool_calls()
        if reply.finish_reason == "length" and tool_calls:
            logger.warning("output truncated: dropping %d tool call(s)", len(tool_calls))
            if reply.content:
                session.history.append({"role": "assistant", "content": reply.content})
            session.history.append({"role": "user", "content": TRUNCATED_NOTE})
            await turn.checkpoint()
            return "continue"
        if not tool_calls:
            if reply.content:
                session.history.append({"role": "assistant", "content": reply.content})
            if reply.finish_reason == "length":
                await turn.emit(ev.CutOff())
            return "done"

        good: list[_Call] = []
        bad: list[tuple[dict[str, Any], str]] = []
        for raw in tool_calls:
            raw["id"] = raw["id"] or f"call_{uuid.uuid4().hex[:12]}"
            args, problem = parse_arguments(raw["function"]["arguments"])
            problem = problem or validate_tool_args(args or {})
            if problem:
                raw["function"]["arguments"] = "{}"
                bad.append((raw, problem))
            else:
                good.append(_Call(raw, args))
        session.history.append(
            {"role": "assistant", "content": reply.content or None, "tool_calls": tool_calls}
        )
        for raw, problem in bad:
            name = raw["function"]["name"]
            output = (
                f"ERROR: the call to '{name}' was NOT executed: {problem}. Retry with valid "
                "JSON object arguments; split very large content into several smaller calls."
            )
            session.history.append(tool_message(raw, output))
            await turn.emit(ev.ToolCall(tool=name, arguments={}, tool_call_id=raw["id"]))
            await turn.emit(
                ev.ToolOutput(tool=name, tool_call_id=raw["id"], output=output, success=False)
            )
        await turn.checkpoint()
        if turn.cancelled:
            return "continue"

        waiting = [
            c
            for c in good
            if call_needs_approval(self.tools.approval(c.name), c.name, c.args, self.config)
        ]
        immediate = [c for c in good if c not in waiting]
        for call in immediate:
            await turn.emit(ev.ToolCall(tool=call.name, arguments=call.args, tool_call_id=call.id))
        if immediate and await self._run_tools(session, immediate, turn):
            return "continue"
        if not waiting:
            return "continue"

        approval_id = uuid.uuid4().hex[:12]
        shown = []
        for call in waiting:
            ctx = ToolContext(session=session, tool_call_id=call.id)
            arguments = await self.tools.preview(call.name, call.args, ctx)
            shown.append({"tool": call.name, "arguments": arguments, "tool_call_id": call.id})
        session.pending = PendingApproval(approval_id, [c.raw for c in waiting])
        await turn.checkpoint()
        await turn.emit(ev.ApprovalRequired(tools=shown, count=len(shown), approval_id=approval_id))
        return "paused"

    async def _run_tools(self, session: Session, calls: list[_Call], turn: Turn) -> bool:
        """Run calls in parallel and record their results in order; True if stopped."""
        results: dict[str, ToolResult] = {}
        notify = turn.notify or turn.emit

        async def run_one(call: _Call) -> None:
            async def progress(text: str) -> None:
                await turn.emit(ev.ToolProgress(tool=call.name, tool_call_id=call.id, text=text))

            ctx = ToolContext(
                session=session,
                tool_call_id=call.id,
                notify=notify,
                spawn=turn.spawn,
                progress=progress,
                llm=self.llm,
                usage=turn.usage,
            )
            results[call.id] = await self.tools.call(call.name, call.args, ctx)

        stopped = False
        try:
            await until_cancelled(asyncio.gather(*(run_one(c) for c in calls)), turn.cancel)
        except TurnCancelled:
            stopped = True
        for call in calls:
            result = results.get(call.id)
            if result is None:
                continue  # closed as interrupted by the caller
            output = EDITED_NOTE + result.output if call.edited else result.output
            session.history.append(tool_message(call.raw, output))
            await turn.emit(
                ev.ToolOutput(
                    tool=call.name,
                    tool_call_id=call.id,
                    output=output,
                    success=result.success,
                    attachments=list(result.attachments),
                )
            )
        await turn.checkpoint()
        return stopped

    # ── endings ──────────────────────────────────────────────────────────

    async def _abandon_pending(self, session: Session, turn: Turn) -> None:
        pending, session.pending = session.pending, None
        for raw in pending.tool_calls if pending else []:
            session.history.append(tool_message(raw, ABANDONED))
            await turn.emit(
                ev.ToolStateChange(
                    tool_call_id=raw["id"], tool=raw["function"]["name"], state="abandoned"
                )
            )

    async def _end_interrupted(self, session: Session, turn: Turn) -> None:
        for raw in session.close_open_tool_calls(INTERRUPTED):
            await turn.emit(
                ev.ToolStateChange(
                    tool_call_id=raw["id"], tool=raw["function"]["name"], state="interrupted"
                )
            )
        await turn.checkpoint()
        await turn.emit(ev.Interrupted())

    async def _fail(self, session: Session, turn: Turn, message: str) -> None:
        session.close_open_tool_calls("ERROR: the turn ended before this tool ran.")
        await turn.checkpoint()
        await turn.emit(ev.Error(error=message))

    @staticmethod
    def _rejection_text(decision: Decision) -> str:
        feedback = sanitise_feedback(decision.get("feedback") or "")
        if decision.get("expired"):
            return f"{EXPIRED} {feedback}".strip()
        return f"{REJECTED}. User feedback: {feedback}" if feedback else REJECTED

    def _messages(self, session: Session) -> list[dict[str, Any]]:
        return [{"role": "system", "content": self.system_prompt()}, *session.history]

    def system_prompt(self) -> str:
        """The configured prompt, or ``prompt.md`` naming the tools registered now (MCP
        servers add theirs after start), made again only when they change."""
        if self.config.system_prompt:
            return self.config.system_prompt
        names = tuple(self.tools.names())
        if self._prompt is None or self._prompt[0] != names:
            self._prompt = (names, system_prompt(self.tools))
        return self._prompt[1]
