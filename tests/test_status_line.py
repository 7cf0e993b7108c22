"""A turn's status line: closing it ends its sender at once, whenever the sender was woken.

On Python 3.11 ``asyncio.wait_for`` swallows a cancel that arrives as the awaited event
fires; a sender waiting that way for its next wish would survive ``close`` and refresh the
status for ever, with the turn (or a runtime's shutdown) waiting on it.
"""

import asyncio

import pytest

from bot.output.messages import THINKING_STATUS
from bot.output.status import StatusLine
from tests.closing import closed
from tests.support import RecordingSurface, eventually


class StatusSurface(RecordingSurface):
    """A thread with a working status; every status set (``""``: cleared) in ``statuses``."""

    status_refresh_seconds = 60.0

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[str] = []

    async def set_status(self, text: str, loading=(), *, wait: float | None = None) -> None:
        self.statuses.append(text)

    async def clear_status(self) -> None:
        self.statuses.append("")


@pytest.mark.parametrize("turns", [0, 1, 2, 3], ids=lambda n: f"{n} loop turns")
async def test_a_close_right_after_a_new_wish_ends_the_sender(turns):
    surface = StatusSurface()
    line = StatusLine(surface)
    line.thinking()
    await eventually(lambda: surface.statuses == [THINKING_STATUS])  # now waiting to refresh

    line.running(["echo"])  # wakes the sender...
    for _ in range(turns):
        await asyncio.sleep(0)
    await closed("the status line", line.close(), within=5)  # ...as the turn ends

    assert surface.statuses[-1] == ""  # cleared, and nothing is set after it
    await asyncio.sleep(0.05)
    assert surface.statuses[-1] == ""
