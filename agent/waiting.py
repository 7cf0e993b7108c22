"""Waiting with a deadline in loops that get cancelled, and cancelling such loops.

``asyncio.wait_for(event.wait(), seconds)`` on Python 3.11 swallows a cancel that arrives
as the event fires: the loop around it goes on, and whoever cancelled it and waits for it
to end (a close, a shutdown) waits for ever. ``asyncio.timeout`` keeps that cancel
(:func:`wait_at_most`). Libraries still use ``wait_for`` inside (redis-py around each
write), so a loop that calls them is stopped by :func:`cancel_and_wait`, which cancels
again what a swallowed cancel left running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

RECANCEL_SECONDS = 0.5
"""How long a cancelled task has to end before it is cancelled again."""


async def wait_at_most(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set, for ``seconds`` at most; whether it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def cancel_and_wait(
    tasks: Iterable[asyncio.Future[Any]], every: float = RECANCEL_SECONDS
) -> None:
    """Cancel ``tasks`` and wait until each has ended (their errors are dropped); one still
    running after ``every`` seconds had its cancel swallowed, and is cancelled again."""
    tasks = list(tasks)
    running = {task for task in tasks if not task.done()}
    while running:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=every)
    await asyncio.gather(*tasks, return_exceptions=True)
