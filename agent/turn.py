"""What a turn of the loop talks to besides its session: events out, stop in, persistence,
what its model calls used, and what a person decided about a call that waited for approval."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from agent import events as ev
from agent.usage import Usage

Emit = Callable[[ev.Event], Awaitable[None]]


async def _noop() -> None:
    return None


class Decision(TypedDict, total=False):
    tool_call_id: str
    approved: bool
    edited_script: str | None
    feedback: str | None
    expired: bool
    """Nobody decided in time: the call did not run (``feedback`` says more)."""


@dataclass
class Turn:
    """Everything a turn talks to besides the session: events out, stop in, persistence,
    the count of its model use."""

    emit: Emit
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    checkpoint: Callable[[], Awaitable[None]] = _noop
    notify: Emit | None = None
    """Where tools send events that outlive the turn (job progress); defaults to ``emit``."""
    spawn: Callable[[Awaitable[Any]], Any] = asyncio.ensure_future
    usage: Usage = field(default_factory=Usage)
    """What the turn's model calls used, a sub-agent's included; its cap, the turn's budget."""

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()


class TurnCancelled(Exception):
    """The user stopped the turn."""


async def until_cancelled(awaitable: Awaitable[Any], cancel: asyncio.Event) -> Any:
    """Await ``awaitable`` unless ``cancel`` is set first; then cancel it and raise."""
    task = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        waiter.cancel()
    if task in done:
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise TurnCancelled


def sanitise_feedback(text: str) -> str:
    """Strip control characters a person's reason may carry."""
    return "".join(ch for ch in str(text).strip() if ch >= " " or ch in "\n\t")
