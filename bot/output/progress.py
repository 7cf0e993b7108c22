"""What a thread shows while a turn works, where the surface can: a typing indicator while
the model thinks (:class:`Thinking`), and the turn's tool lines in one message (:class:`Steps`).

Both go through :func:`bot.platform.call_surface`, behind the thread's rate gate. A
failure here is logged and never ends the turn: they are progress, not the answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.platform import Surface, ToolSteps, Typing, call_surface

logger = logging.getLogger(__name__)


class Thinking:
    """A typing indicator, repeated every ``typing_seconds`` from ``start`` until ``stop``.

    On a surface without :class:`Typing` both do nothing.
    """

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if isinstance(self.surface, Typing) and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._keep_typing(), name="typing")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _keep_typing(self) -> None:
        surface: Any = self.surface
        while True:
            try:
                await call_surface(surface, surface.typing)
            except Exception:
                logger.info("the typing indicator failed", exc_info=True)
            await asyncio.sleep(surface.typing_seconds)


class Steps:
    """A turn's tool lines in one message on a :class:`ToolSteps` surface.

    The first line posts the message, in order with the rest of the thread; later
    changes mark it stale, and a task draws it again once the rate gate lets it, so
    a burst of tool events costs one edit. ``close`` draws it a last time as final.
    """

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self._lines: dict[str, str] = {}  # tool_call_id -> its line, in call order
        self._ref: str | None = None
        self._stale = asyncio.Event()
        self._drawer: asyncio.Task[None] | None = None

    async def set(self, key: str, line: str) -> None:
        """Line ``key`` reads ``line`` now (a new key adds a line at the end)."""
        self._lines[key] = line
        if self._ref is None:
            self._ref = await self._draw(final=False)
            return
        self._stale.set()
        if self._drawer is None or self._drawer.done():
            self._drawer = asyncio.create_task(self._redraw(), name="steps")

    async def close(self) -> None:
        """Draw the lines a last time, as final; nothing if no tool ran."""
        if self._drawer is not None:
            self._stale.clear()
            await self._drawer
        if self._ref is not None:
            await self._draw(final=True)

    def abandon(self) -> None:
        """Draw nothing more (another worker carries the turn on)."""
        if self._drawer is not None:
            self._drawer.cancel()
        self._ref = None
        self._stale.clear()

    async def _redraw(self) -> None:
        while self._stale.is_set():
            await self.surface.gate.ready()  # then draw the newest lines, not the first
            if not self._stale.is_set():
                return  # closed meanwhile: ``close`` draws them
            self._stale.clear()
            try:
                await self._draw(final=False)
            except Exception:
                logger.warning("could not redraw the steps of a turn", exc_info=True)

    async def _draw(self, *, final: bool) -> str:
        surface: Any = self.surface
        assert isinstance(surface, ToolSteps)
        lines = list(self._lines.values())
        return await call_surface(surface, surface.post_steps, self._ref, lines, final=final)
