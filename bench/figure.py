"""What a figure reports: its parameters, its numbers, and where it stands against targets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.rig import TimedSlack, last_marker


@dataclass
class Target:
    """A release target: ``met`` is None when the figure could not measure it."""

    what: str
    goal: str
    value: Any
    met: bool | None


@dataclass
class Figure:
    key: str
    title: str
    params: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    status: str = "done"  # done | partial | pending
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def target(self, what: str, goal: str, value: Any, met: bool | None) -> None:
        self.targets.append(Target(what, goal, value, met))


def step(what: str) -> None:
    """A progress line inside a figure (``make bench`` shows how far it is)."""
    print(f"   · {what}", flush=True)


def below(value: float | None, limit: float) -> bool | None:
    return None if value is None else value < limit


async def until(predicate: Callable[[], bool], within: float, every: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds (True) or ``within`` seconds pass (False)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


def finished(slack: TimedSlack, channels: Iterable[str], last: int) -> set[str]:
    """The channels whose answer shows chunk ``last`` now, however it was written (a
    native stream, a post edited, or a post of the whole answer)."""
    wanted = set(channels)
    return {
        m.channel
        for m in list(slack.messages.values())
        if m.channel in wanted and last_marker(m.text) >= last
    }


def answered_at(slack: TimedSlack, channels: Iterable[str], last: int) -> dict[str, float]:
    """When each channel's answer first showed chunk ``last`` (channels not there yet: absent)."""
    wanted = set(channels)
    seen: dict[str, float] = {}
    for c in slack.timeline:
        channel = c.args.get("channel")
        if (
            c.status == 200
            and c.method == "chat.update"
            and channel in wanted
            and channel not in seen
            and last_marker(c.args.get("text", "")) >= last
        ):
            seen[channel] = c.at
    return seen
