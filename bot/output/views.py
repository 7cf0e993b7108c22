"""What every front end shows alike, before a platform draws it.

The facts of a ``status`` command, the session commands and what each does, the
replies of those commands, and :func:`clip`. Text here is markdown both
platforms read the same way (inline code, ``<@id>`` mentions); where a platform
lays facts out differently (one line on Slack, a line each on Discord), it gets
them as ``(label, value)`` pairs.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from bot.output.messages import MODEL_SOURCES, model_name

ELLIPSIS = "…"
STOP_ID = "mib:stop"
"""The id of the Stop button on a streaming answer, on every platform."""
THUMBS = {"up": "👍", "down": "👎"}
"""The feedback buttons under a final answer, by rating (:mod:`bot.turns.feedback`)."""
NOTHING_RUNNING = "Nothing is running here now."
SESSION_COMMANDS = {
    "new": "Start over in this thread: forget its history",
    "undo": "Forget the last turn of this thread",
    "compact": "Summarise the older history of this thread",
    "stop": "Stop what the agent is doing in this thread",
    "status": "Model, model use, history size, pending approvals and running tools of this thread",
}
"""The session commands without an argument, and what each does (help, slash commands)."""
AUTOAPPROVE = "Run costly calls in this thread without a click, up to a budget"
"""What the ``autoapprove`` command does; its argument is a budget in USD, or ``off``."""
AUTOAPPROVE_BUDGET = "USD this thread may spend on auto-approved calls; 0 turns it off"
MODEL = "Answer with another model here (one of MODELS); alone: the model and the choices"
"""What the ``model`` command does; its argument is a label of ``MODELS``, or ``default``."""
MODEL_LABEL = "A label of MODELS, or default to drop this thread's (or channel's) choice"
PENDING = "The approvals waiting for your decision, in threads you can see"
"""What ``/pending`` (Discord) does."""
JOBS = "The jobs running in threads you can see, with Logs and Cancel"
"""What ``/jobs`` (Discord) does."""
REPLIES = {
    "new": "🆕 Starting over: this thread's history is forgotten.",
    "undo": "↩️ Undoing the last turn…",
    "compact": "🗜️ Compacting the conversation…",
    "stop": "⏹️ Stopping…",
}
"""What a session command answers once it is under way."""


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with … when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS[: max(limit, 0)]


def help_lines(prefix: str = "", without: Container[str] = ()) -> list[str]:
    """A line per session command but those ``without``, named as typed after ``prefix``."""
    lines = [
        f"`{prefix}{name}`: {text}"
        for name, text in SESSION_COMMANDS.items()
        if name not in without
    ]
    lines.append(
        f"`{prefix}autoapprove 20`: {AUTOAPPROVE} of $20 (`{prefix}autoapprove off` ends it)"
    )
    lines.append(f"`{prefix}model <label>`: {MODEL}")
    return lines


def status_facts(status: dict[str, Any]) -> list[tuple[str, str]]:
    """What a ``status`` command shows of :meth:`TurnRunner.status`, in order, as (label, value)."""
    running = ", ".join(f"`{tool}`" for tool in status["running_tools"])
    facts = [
        ("Status", str(status["status"])),
        ("Model", model_fact(status)),
        ("History", f"{status['history_size']} messages (~{status['context_tokens']:,} tokens)"),
        ("Pending approvals", str(status["pending_approvals"])),
        ("Running tools", running or "none"),
    ]
    if status["queued"]:
        facts.append(("Queued", str(status["queued"])))
    if status.get("usage"):
        facts.append(("Model use", model_use_fact(status)))
    if status.get("budget"):
        facts.append(("Budget", str(status["budget"])))
    return facts


def model_use_fact(status: dict[str, Any]) -> str:
    """What the model calls of the running (or last) turn used, and of the whole thread."""
    turn = "this turn" if status["status"] == "running" else "last turn"
    facts = f"{turn} {usage_text(status['usage'])}"
    total = status.get("usage_total")
    if total and total != status["usage"]:
        facts += f"; this thread {usage_text(total)}"
    return facts


def usage_text(usage: dict[str, Any]) -> str:
    """Tokens of ``Usage.to_dict()`` and their cost: unknown when no call's model had a
    price, else the known part, with the calls it leaves out."""
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    tokens = f"{prompt + completion:,} tokens ({prompt:,} prompt, {completion:,} completion)"
    calls, unpriced = usage["calls"], usage["unpriced"]
    if unpriced >= calls:
        return f"{tokens}, cost unknown"
    cost = f"{tokens}, {usd(usage['cost_usd'])}"
    if not unpriced:
        return cost
    return f"{cost} + {unpriced} call{'s' if unpriced > 1 else ''} of unknown price"


def usd(amount: float) -> str:
    """Dollars to the cent, or to a hundredth of a cent below a dollar (model calls)."""
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def model_fact(status: dict[str, Any]) -> str:
    """The model of a ``status``: label and name, and whose choice it is unless nobody's."""
    name = model_name(status["model"], status.get("model_label"))
    source = status.get("model_source", "default")
    return name if source == "default" else f"{name}, {MODEL_SOURCES[source]}"
