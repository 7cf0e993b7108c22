"""Waiting for an event with a deadline, in loops that get cancelled.

``asyncio.wait_for(event.wait(), seconds)`` on Python 3.11 swallows a cancel that arrives
as the event fires: the loop around it goes on, and whoever cancelled it and waits for it
to end (a close, a shutdown) waits for ever. ``asyncio.timeout`` keeps that cancel.
"""

from __future__ import annotations

import asyncio


async def wait_at_most(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set, for ``seconds`` at most; whether it is set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
