"""One thread's platform writes, made in order beside the turn, so a turn never waits for them.

A :class:`ThreadWriter` takes writes (a tool line posted or updated, an approval card
redrawn) and makes them one after another in a task of its own, each behind the thread's
rate gate (the write calls :func:`bot.platform.call_surface`). Whoever queues a write goes
on at once: an approved tool starts while its "running" line still waits for the gate. A
write that updates a message replaces an update of the same message still queued, so a
busy gate shows the newest state in one call. A write that posts a message is never
replaced: later updates need the message it makes.

Every write of a thread in a process goes through its one writer (:class:`Writers`): the
turn's renderer and the approval card's redraws alike, so a card shows its decision
before the line of the call it let run.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

Write = Callable[[], Awaitable[Any]]
_WRITING: set[asyncio.Task[None]] = set()
"""Writers' running tasks, held here: the event loop keeps only weak references to tasks."""


@dataclass
class _Queued:
    message: str | None  # the message an update changes; None for a post (never replaced)
    write: Write
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class ThreadWriter:
    """A thread's queued writes, made in order by one task."""

    def __init__(self) -> None:
        self._queue: list[_Queued] = []  # waiting; the write being made is not in it
        self._making: asyncio.Future[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    def post(self, write: Write) -> asyncio.Future[Any]:
        """Queue a write that makes a message; its future gets what the write returns."""
        return self._put(_Queued(None, write))

    def update(self, message: str, write: Write) -> asyncio.Future[Any]:
        """Queue an update of ``message``, in place of an update of it still queued."""
        for queued in self._queue:
            if queued.message == message:
                queued.write = write
                return queued.done
        return self._put(_Queued(message, write))

    async def flush(self) -> None:
        """Wait until every write queued so far was made (or failed)."""
        last = self._queue[-1].done if self._queue else self._making
        if last is not None and not last.done():
            await asyncio.wait([last])

    def _put(self, queued: _Queued) -> asyncio.Future[Any]:
        self._queue.append(queued)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_all(), name="thread writes")
            _WRITING.add(self._task)
            self._task.add_done_callback(_WRITING.discard)
        return queued.done

    async def _write_all(self) -> None:
        try:
            await self._write_queued()
        except asyncio.CancelledError:  # shutting down: nobody waits for what is left
            if self._making is not None:
                self._making.cancel()
            for queued in self._queue:
                queued.done.cancel()
            self._queue.clear()
            raise

    async def _write_queued(self) -> None:
        while self._queue:
            queued = self._queue.pop(0)
            self._making = queued.done
            try:
                result = await queued.write()
            except Exception as exc:  # a platform hiccup: later writes still go
                logger.warning("a thread write failed: %r", exc)
                queued.done.set_exception(exc)
                queued.done.exception()  # retrieved: whoever waits may ignore it
            else:
                queued.done.set_result(result)


class Writers:
    """This process's writer of each thread, kept while anything holds or runs it."""

    def __init__(self) -> None:
        self._writers: weakref.WeakValueDictionary[str, ThreadWriter] = (
            weakref.WeakValueDictionary()
        )

    def of(self, key: str) -> ThreadWriter:
        """The writer of session ``key``'s thread."""
        writer = self._writers.get(key)
        if writer is None:
            writer = self._writers[key] = ThreadWriter()
        return writer
