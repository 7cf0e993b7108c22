"""Carrying on a turn a dead worker left.

A worker that dies mid-turn leaves its input current in the session and its
stream entry pending; the worker that claims the entry runs that input again with
``taken_over``. If the turn had started (the stored turn id is the input's), it
is carried on rather than started afresh: what the dead worker left shown is taken
over (:meth:`~bot.output.render.StreamRenderer.adopt`: the answer goes on in the same
messages, or below one marked as interrupted; its placeholder, Stop control and status
are resolved), tool calls left without a result get
:data:`~bot.output.messages.RESTARTED`, a pending approval card is posted again,
and the agent goes on from the history. After :data:`MAX_TAKEOVERS` takeovers of
the same turn it gives up and says so: an input that keeps killing its worker
is not retried forever.
"""

from __future__ import annotations

from typing import Any

from agent import events as ev
from agent.llm import parse_arguments
from agent.loop import Agent, Turn
from agent.session import Session
from bot.output.messages import GIVEN_UP, RESTARTED, TAKEN_OVER
from bot.output.render import StreamRenderer
from bot.telemetry.metrics import TAKEOVERS

MAX_TAKEOVERS = 2
KINDS = ("continue", "give_up")
"""The kinds :func:`carried_on` gives an input it takes over."""


def carried_on(
    item: dict[str, Any], meta: dict[str, Any], turn_id: str, taken_over: bool
) -> tuple[dict[str, Any], int]:
    """The input to run and its turn's takeover count, from the session's stored ``meta``.

    An input taken over whose turn had started becomes ``continue``, or ``give_up``
    once taken over more than :data:`MAX_TAKEOVERS` times; any other is left as is.
    """
    takeovers = int(meta.get("takeovers", 0)) if meta.get("turn") == turn_id else 0
    if taken_over and meta.get("turn") == turn_id:  # it had started: carry it on
        TAKEOVERS.inc()
        takeovers += 1
        kind = "continue" if takeovers <= MAX_TAKEOVERS else "give_up"
        item = {**item, "kind": kind, "was": item.get("kind", "message")}
    return item, takeovers


async def take_over(
    agent: Agent, session: Session, item: dict[str, Any], turn: Turn, renderer: StreamRenderer
) -> None:
    """Carry on a turn a dead worker left: take over what it showed, answer its open tool
    calls, say so, go on (or show the answer it had saved, if it died just after)."""
    kind = item["kind"]
    await renderer.adopt()
    for raw in session.close_open_tool_calls(RESTARTED):
        await turn.emit(
            ev.ToolStateChange(
                tool_call_id=raw["id"], tool=raw["function"]["name"], state="interrupted"
            )
        )
    await turn.checkpoint()
    if kind == "give_up":
        await renderer.notice(GIVEN_UP)
    elif session.pending:  # it stopped around posting the approval card: post it again
        await turn.emit(approval_event(session))
    elif (answer := saved_answer(session, item)) is not None:
        await renderer.notice(TAKEN_OVER)
        for event in (ev.AssistantChunk(content=answer), ev.AssistantStreamEnd()):
            await turn.emit(event)
        await turn.emit(ev.TurnComplete(history_size=len(session.history)))
    else:
        await renderer.notice(TAKEN_OVER)
        await agent.run(session, "", turn)


def saved_answer(session: Session, item: dict[str, Any]) -> str | None:
    """The answer a message's turn had saved when its worker died (before it ended): the
    model is not asked again."""
    last = session.history[-1] if session.history else {}
    answered = last.get("role") == "assistant" and not last.get("tool_calls")
    if item.get("was") in ("message", "resume") and answered and last.get("content"):
        return str(last["content"])
    return None


def approval_event(session: Session) -> ev.ApprovalRequired:
    """The approval card of a session's pending calls, shown again after a takeover."""
    assert session.pending is not None
    tools = [
        {
            "tool": raw["function"]["name"],
            "arguments": parse_arguments(raw["function"]["arguments"])[0] or {},
            "tool_call_id": raw["id"],
        }
        for raw in session.pending.tool_calls
    ]
    return ev.ApprovalRequired(
        tools=tools, count=len(tools), approval_id=session.pending.approval_id
    )
