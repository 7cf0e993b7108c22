"""Closing what a test opened, in bounded time.

A close that hangs (a server that never stops, a task that never ends) would otherwise
wait on the suite's own timeout, whose report shows only the event loop's ``select``.
:func:`closed` fails the test after :data:`CLOSE_SECONDS` instead, naming what would not
close and where every task of the event loop waits; :func:`bounded` does it for the exit
of an async context manager (a stand-in server, a rig).
"""

from __future__ import annotations

import asyncio
import gc
import io
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CLOSE_SECONDS = 20.0
"""How long one close may take (a test has no business running longer)."""


async def closed(what: str, close: Awaitable[Any], within: float = CLOSE_SECONDS) -> Any:
    """Await ``close`` (in a task of its own, so a close that ignores being cancelled can't
    hold this up); past ``within`` seconds, fail the test with the tasks' stacks."""
    task = asyncio.ensure_future(close)
    done, _ = await asyncio.wait([task], timeout=within)
    if task not in done:
        stacks = task_stacks()
        task.cancel()
        pytest.fail(f"{what} did not close within {within:g}s. Tasks:\n{stacks}", pytrace=False)
    return task.result()


def task_stacks() -> str:
    """Where each task of the running loop waits now (but the caller's own)."""
    return stacks(t for t in asyncio.all_tasks() if t is not asyncio.current_task())


def stacks(tasks: Iterable[asyncio.Task[Any]]) -> str:
    """Where each of ``tasks`` waits now."""
    out = io.StringIO()
    for task in tasks:
        task.print_stack(file=out)
    return out.getvalue()


@asynccontextmanager
async def bounded(what: str, manager: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """``async with manager``, its exit bounded by :func:`closed`."""
    entered = await manager.__aenter__()
    try:
        yield entered
    finally:
        await closed(what, manager.__aexit__(None, None, None))


def running_loop_stacks() -> str:
    """Where each task of every running event loop waits, read from another thread (for a
    watchdog: the loop may be stuck in ``select`` with nothing left to wake it)."""
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop)]
    return "".join(stacks(asyncio.all_tasks(loop)) for loop in loops if loop.is_running())


@contextmanager
def watchdog(what: str, after: float) -> Iterator[None]:
    """Past ``after`` seconds inside the block, write the loops' task stacks to stderr once,
    so a test later killed by pytest-timeout shows where it waited, not only ``select``."""

    def bark() -> None:
        sys.stderr.write(f"\n{what} still running after {after:g}s. Tasks:\n")
        sys.stderr.write(running_loop_stacks())
        sys.stderr.flush()

    timer = threading.Timer(after, bark)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
