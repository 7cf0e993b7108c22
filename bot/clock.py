"""Time for the whole runtime: the clock type callers inject, the real one, spans in words.

Everything that tells the time (job cards, the approval sweeper, the runner) takes a
:data:`Clock` defaulting to :func:`utc_now`, so tests can pass a fake one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def human_duration(span: timedelta | float) -> str:
    """``45 s``, ``12 min``, ``1 h 02 min``, ``2 d 03 h`` (rounded down)."""
    seconds = int(max(span.total_seconds() if isinstance(span, timedelta) else span, 0))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours:02d} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
