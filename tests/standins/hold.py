"""Holding a stand-in's answers: calls arrive and wait until the test releases them."""

from __future__ import annotations

import asyncio


class Hold:
    """Which calls a stand-in keeps waiting: ``hold("chat.update")`` some, ``hold()`` all;
    with ``answered=True`` the stand-in acts on them first and holds only their answers.

    ``waiting`` lists the held calls that arrived and wait now, so a test can see a call
    reached the stand-in before it lets it through with :meth:`release`.
    """

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.answered = False
        self.waiting: list[str] = []
        self._released = asyncio.Event()

    def hold(self, *names: str, answered: bool = False) -> None:
        self.names = set(names) or {"*"}
        self.answered = answered
        self._released.clear()

    def release(self) -> None:
        self.names = set()
        self._released.set()

    async def passing(self, name: str) -> None:
        """Wait here while calls of ``name`` are held (before the stand-in acts on them)."""
        if not self.answered:
            await self._wait(name)

    async def answering(self, name: str) -> None:
        """Wait here while answers to calls of ``name`` are held (the call has acted)."""
        if self.answered:
            await self._wait(name)

    async def _wait(self, name: str) -> None:
        if name in self.names or "*" in self.names:
            self.waiting.append(name)
            try:
                await self._released.wait()
            finally:
                self.waiting.remove(name)
