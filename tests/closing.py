"""Closing what a test opened, in bounded time.

A close that hangs (a server that never stops, a task that never ends) would otherwise
wait on the suite's own timeout, whose report shows only the event loop's ``select``.
:func:`closed` fails the test after :data:`CLOSE_SECONDS` instead, naming what would not
close and where every task of the event loop waits; :func:`bounded` does it for the exit
of an async context manager (a stand-in server, a rig).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is not asyncio.current_task():
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
