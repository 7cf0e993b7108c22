"""Typed events the agent emits while it works.

Each event has a ``type`` string (the names upstream ml-intern's front ends use too)
and serialises to a plain dict, so events can cross process boundaries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

ToolState = Literal["approved", "rejected", "expired", "running", "abandoned", "interrupted"]


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True)
class Processing(Event):
    type: ClassVar[str] = "processing"
    message: str = "Processing user input"


@dataclass(frozen=True)
class AssistantChunk(Event):
    type: ClassVar[str] = "assistant_chunk"
    content: str = ""


@dataclass(frozen=True)
class AssistantStreamEnd(Event):
    type: ClassVar[str] = "assistant_stream_end"


@dataclass(frozen=True)
class ToolCall(Event):
    type: ClassVar[str] = "tool_call"
    tool: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    tool_call_id: str = ""


@dataclass(frozen=True)
class ToolOutput(Event):
    """``attachments``: files the tool produced for people (``{filename, mime_type, data}``,
    data in base64), shown where the platform can; the model reads ``output`` only."""

    type: ClassVar[str] = "tool_output"
    tool: str = ""
    tool_call_id: str = ""
    output: str = ""
    success: bool = True
    attachments: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ToolStateChange(Event):
    type: ClassVar[str] = "tool_state_change"
    tool_call_id: str = ""
    tool: str = ""
    state: ToolState = "running"


@dataclass(frozen=True)
class ToolProgress(Event):
    """How a running tool call is getting on (a sandbox Space building, a ``research``
    sub-agent's steps): its line or step shows ``text`` until the call ends, never as a
    message of its own."""

    type: ClassVar[str] = "tool_progress"
    tool: str = ""
    tool_call_id: str = ""
    text: str = ""


@dataclass(frozen=True)
class ApprovalRequired(Event):
    """The turn paused: ``tools`` is a list of ``{tool, arguments, tool_call_id}``."""

    type: ClassVar[str] = "approval_required"
    tools: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    approval_id: str = ""


@dataclass(frozen=True)
class Compacted(Event):
    type: ClassVar[str] = "compacted"
    old_tokens: int = 0
    new_tokens: int = 0


@dataclass(frozen=True)
class TurnComplete(Event):
    type: ClassVar[str] = "turn_complete"
    history_size: int = 0


@dataclass(frozen=True)
class UndoComplete(Event):
    type: ClassVar[str] = "undo_complete"
    removed: int = 0


@dataclass(frozen=True)
class Interrupted(Event):
    type: ClassVar[str] = "interrupted"


@dataclass(frozen=True)
class CutOff(Event):
    """The model stopped at its output limit: the answer shown is incomplete."""

    type: ClassVar[str] = "cut_off"


@dataclass(frozen=True)
class Error(Event):
    type: ClassVar[str] = "error"
    error: str = ""


@dataclass(frozen=True)
class JobStatus(Event):
    """Progress of long-running work (e.g. an HF Job) started by a tool.

    Front ends keep one status line per ``key`` and update it in place.
    """

    type: ClassVar[str] = "job_status"
    key: str = ""
    text: str = ""
    final: bool = False
    resume: dict[str, Any] = field(default_factory=dict)
    """What restarts the watch after the bot restarts: ``{"tool": name, ...}`` handed
    back to that tool's ``resume`` hook (empty: nothing to resume)."""
    job: dict[str, Any] = field(default_factory=dict)
    """The job as the Hub describes it (its JSON: ``JobInfo(**job)`` reads it), when the
    work is an HF Job; front ends draw a job card from it instead of ``text``."""
    namespace: str = ""
    """The user or org the job runs under."""
    logs: list[str] = field(default_factory=list)
    """The job's last log lines, oldest first (many more once ``final``: its metrics)."""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        Processing,
        AssistantChunk,
        AssistantStreamEnd,
        ToolCall,
        ToolOutput,
        ToolProgress,
        ToolStateChange,
        ToolProgress,
        ApprovalRequired,
        Compacted,
        TurnComplete,
        UndoComplete,
        Interrupted,
        CutOff,
        Error,
        JobStatus,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event serialised by :meth:`Event.to_dict`."""
    fields = dict(data)
    cls = EVENT_TYPES[fields.pop("type")]
    return cls(**fields)
