"""The thread's working status, where the surface has one (:class:`WorkingStatus`).

A turn tells :class:`StatusLine` what it does now (thinking, running tools, nothing);
the line sends only the newest wish, in the background so a busy rate budget never
holds up the answer, and sends it again before the platform drops it. A platform that
refuses a status is asked once: the thread's placeholder says "thinking…" instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from agent import events as ev
from agent.waiting import wait_at_most
from bot.output.messages import (
    THINKING_LOADING,
    THINKING_STATUS,
    running_loading,
    running_status,
)
from bot.platform import Receipts, StatusUnavailable, Surface, WorkingStatus, call_surface

logger = logging.getLogger(__name__)

Wish = tuple[str, tuple[str, ...]]
"""A status text and its loading lines; ``("", ())`` shows none."""
NONE: Wish = ("", ())


FIRST_STATUS_WAIT = 0.1
"""Seconds a turn's first status waits for the platform's rate budget: past that, a
placeholder shows the person at once that the bot works on it."""


async def show_working(surface: Surface, text: str = THINKING_STATUS) -> bool:
    """Set the thread's status once (a message just came in); False where it can't be set
    now."""
    if not isinstance(surface, WorkingStatus):
        return False
    try:
        await call_surface(
            surface, surface.set_status, text, THINKING_LOADING, wait=FIRST_STATUS_WAIT
        )
    except StatusUnavailable:
        return False
    return True


async def mark_received(surface: Surface, message: str) -> None:
    """The person's message ``message`` (the platform's id of it) shows that it reached the
    bot, where the surface can (:class:`Receipts`); a failure is only logged."""
    if not isinstance(surface, Receipts):
        return
    try:
        await call_surface(surface, surface.mark_received, message)
    except Exception:
        logger.exception("marking a message received failed")


async def show_taken_up(surface: Surface, ref: dict[str, Any]) -> dict[str, Any]:
    """What a turn shows first of the message its input ``ref`` brought: the thread's
    status, else a placeholder (``ref["thinking"]``); the ref, with the placeholder's when
    one was posted. A failed call leaves the turn to run without it."""
    try:
        if ref.get("thinking") is None or ref.get("placeholder") or await show_working(surface):
            return ref
        return {**ref, "placeholder": await call_surface(surface, surface.post, ref["thinking"])}
    except Exception:
        logger.exception("showing that a message is being worked on failed")
        return ref


class StatusLine:
    """What one turn shows as its thread's status; ``close`` clears it."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface if isinstance(surface, WorkingStatus) else None
        self._wanted: Wish = NONE
        self._changed = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._running: dict[str, str] = {}  # tool_call_id -> tool, while it runs

    def follow(self, event: ev.Event) -> None:
        """What the status says after ``event``: thinking, running tools, or nothing while
        text streams."""
        match event:
            case ev.Processing():
                self.thinking()
            case ev.AssistantChunk():
                self.idle()
            case (
                ev.ToolCall(tool=tool, tool_call_id=call_id)
                | ev.ToolStateChange(tool=tool, tool_call_id=call_id, state="running")
            ):
                self._running[call_id] = tool
                self.running(list(self._running.values()))
            case ev.ToolOutput(tool_call_id=call_id) | ev.ToolStateChange(tool_call_id=call_id):
                self._running.pop(call_id, None)
                if self._running:
                    self.running(list(self._running.values()))
                else:
                    self.thinking()  # the model reads the results next

    def thinking(self) -> None:
        self._want((THINKING_STATUS, THINKING_LOADING))

    def running(self, tools: Sequence[str]) -> None:
        tools = sorted(set(tools))
        self._want((running_status(tools), running_loading(tools)) if tools else NONE)

    def idle(self) -> None:
        """Nothing to show (the answer's text is what moves now)."""
        self._want(NONE)

    async def close(self) -> None:
        """The turn ended or waits: clear the status (and the platform's Stop control)."""
        if self.surface is None:
            return
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.cancel()
            await asyncio.wait([sender])  # a cancel of this task itself still goes through
        self._wanted = NONE
        try:
            await call_surface(self.surface, self.surface.clear_status)
        except Exception:  # a status is a nicety: never fail a turn for it
            logger.exception("clearing the thread status failed")

    @property
    def showing(self) -> bool:
        """Whether the turn wants a status shown now."""
        return self.surface is not None and self._wanted != NONE

    def abandon(self) -> None:
        """Send nothing more, not even a clear (another worker carries the turn on)."""
        if self._sender is not None:
            self._sender.cancel()
        self.surface = None

    def _want(self, wish: Wish) -> None:
        if self.surface is None or wish == self._wanted:
            return
        self._wanted = wish
        self._changed.set()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_loop())

    async def _send_loop(self) -> None:
        """Send the newest wish; send it again before the platform drops it."""
        assert self.surface is not None
        refresh = self.surface.status_refresh_seconds
        while True:
            self._changed.clear()
            wish = self._wanted
            try:
                await call_surface(self.surface, self.surface.set_status, *wish)
            except StatusUnavailable as exc:
                if exc.lasting:
                    self.surface = None  # the placeholder says it; don't ask again
                    return
            except Exception:
                logger.exception("setting the thread status failed")
            if wish == NONE:
                if not self._changed.is_set():
                    return
                continue
            await wait_at_most(self._changed, refresh)
