"""History housekeeping: compaction near the context limit, and undo of the last turn."""

from __future__ import annotations

from typing import Any

from agent.session import Session

SUMMARY_PREFIX = "[Summary of the earlier conversation]\n"

SUMMARY_INSTRUCTIONS = (
    "You compress conversation history for an ML-engineering assistant. Summarise the "
    "conversation below so the assistant can continue the work: the user's goals, decisions "
    "made, repos/jobs/files involved (exact ids and names), results, and open questions. "
    "Be concise and factual; do not invent anything."
)


def split_for_compaction(
    history: list[dict[str, Any]], keep_recent_turns: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split history at a user message, keeping the last ``keep_recent_turns`` turns whole.

    Cutting only at user messages never separates a tool call from its result.
    """
    user_indexes = [i for i, m in enumerate(history) if m.get("role") == "user"]
    if len(user_indexes) <= keep_recent_turns:
        cut = user_indexes[-1] if user_indexes else 0
    else:
        cut = user_indexes[-keep_recent_turns] if keep_recent_turns else len(history)
    return history[:cut], history[cut:]


def render_transcript(messages: list[dict[str, Any]]) -> str:
    """Plain-text transcript of messages, for the summariser."""
    lines = []
    for m in messages:
        role = m.get("role", "?")
        if m.get("content"):
            lines.append(f"{role}: {content_text(m['content'])}")
        for tc in m.get("tool_calls") or []:
            fn = tc["function"]
            lines.append(f"{role} called {fn['name']}({fn['arguments']})")
    return "\n".join(lines)


def content_text(content: str | list[dict[str, Any]]) -> str:
    """A message's text; in a list of parts, each image becomes ``[image]`` (no base64)."""
    if isinstance(content, str):
        return content
    return "\n".join(_part_text(part) for part in content)


def _part_text(part: dict[str, Any]) -> str:
    kind = str(part.get("type", "part"))
    if kind == "text":
        return str(part.get("text", ""))
    return "[image]" if kind.startswith("image") else f"[{kind}]"


def summary_message(summary: str) -> dict[str, Any]:
    return {"role": "user", "content": SUMMARY_PREFIX + summary.strip()}


def undo_last_turn(session: Session) -> int:
    """Drop the last user message and everything after it; return how many messages went."""
    for i in range(len(session.history) - 1, -1, -1):
        if session.history[i].get("role") == "user":
            removed = len(session.history) - i
            del session.history[i:]
            session.pending = None
            return removed
    return 0
