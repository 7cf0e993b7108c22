"""The agent-side state of one conversation, serialisable to plain JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PendingApproval:
    """Tool calls waiting for a person's decision.

    ``tool_calls`` are OpenAI-format tool calls (``{id, type, function: {name,
    arguments}}``) exactly as they stand in the history.
    """

    approval_id: str
    tool_calls: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"approval_id": self.approval_id, "tool_calls": self.tool_calls}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingApproval:
        return cls(approval_id=data["approval_id"], tool_calls=list(data["tool_calls"]))

    def ids(self) -> list[str]:
        return [tc["id"] for tc in self.tool_calls]


@dataclass
class Session:
    """History (OpenAI chat messages, no system prompt), pending approval and tool state."""

    key: str
    history: list[dict[str, Any]] = field(default_factory=list)
    pending: PendingApproval | None = None
    state: dict[str, Any] = field(default_factory=dict)
    """Per-session tool state (plan, sandbox path, ...), JSON only."""
    context_tokens: int = 0
    turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "history": self.history,
            "pending": self.pending.to_dict() if self.pending else None,
            "state": self.state,
            "context_tokens": self.context_tokens,
            "turns": self.turns,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        pending = data.get("pending")
        return cls(
            key=data["key"],
            history=list(data.get("history", [])),
            pending=PendingApproval.from_dict(pending) if pending else None,
            state=dict(data.get("state", {})),
            context_tokens=int(data.get("context_tokens", 0)),
            turns=int(data.get("turns", 0)),
        )

    def open_tool_call_ids(self) -> list[str]:
        """Tool calls in the history that have no tool result yet."""
        answered = {m.get("tool_call_id") for m in self.history if m.get("role") == "tool"}
        return [
            tc["id"]
            for m in self.history
            if m.get("role") == "assistant"
            for tc in m.get("tool_calls") or []
            if tc["id"] not in answered
        ]

    def close_open_tool_calls(self, content: str) -> list[dict[str, Any]]:
        """Give every unanswered tool call (outside the pending approval) a result.

        Returns the tool calls that were closed. History must never hold a tool
        call without its result when it is sent to the model.
        """
        waiting = set(self.pending.ids()) if self.pending else set()
        open_ids = set(self.open_tool_call_ids()) - waiting
        closed = [
            tc
            for m in self.history
            if m.get("role") == "assistant"
            for tc in m.get("tool_calls") or []
            if tc["id"] in open_ids
        ]
        for tc in closed:
            self.history.append(tool_message(tc, content))
        return closed


def tool_message(tool_call: dict[str, Any], content: str) -> dict[str, Any]:
    """The history message answering ``tool_call``."""
    return {
        "role": "tool",
        "tool_call_id": tool_call["id"],
        "name": tool_call["function"]["name"],
        "content": content,
    }
