"""What model calls used: tokens as the provider counted them, and what they cost in USD
where the model's price is known.

A turn keeps one :class:`Usage` (``Turn.usage``) that every model call of the turn adds
to; a part of the turn that runs its own loop (the ``research`` sub-agent) keeps a
:meth:`Usage.part` of it, whose calls add to the turn's too. A cap (``cap_usd``) says
what the calls may cost; a part is within its own cap and every cap above it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Usage:
    """Model calls counted: their tokens, their cost where priced, and an optional cap."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    """The cost of the calls whose model has a known price."""
    calls: int = 0
    unpriced: int = 0
    """Calls whose model has no known price: their tokens count, their cost is unknown."""
    cap_usd: float | None = None
    """What these calls may cost at most (a turn's: its thread's budget left); None: no cap."""
    parent: Usage | None = field(default=None, repr=False, compare=False)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, prompt_tokens: int, completion_tokens: int, cost_usd: float | None) -> None:
        """Count one model call here and in every usage this is a part of."""
        usage: Usage | None = self
        while usage is not None:
            usage.prompt_tokens += prompt_tokens
            usage.completion_tokens += completion_tokens
            usage.calls += 1
            if cost_usd is None:
                usage.unpriced += 1
            else:
                usage.cost_usd += cost_usd
            usage = usage.parent

    def part(self, cap_usd: float | None = None) -> Usage:
        """A part of this usage (a sub-agent's): what it counts is counted here too."""
        return Usage(cap_usd=cap_usd, parent=self)

    def left_usd(self) -> float | None:
        """USD left under this cap and those above it; None when there is no cap."""
        left: float | None = None
        usage: Usage | None = self
        while usage is not None:
            if usage.cap_usd is not None:
                room = usage.cap_usd - usage.cost_usd
                left = room if left is None else min(left, room)
            usage = usage.parent
        return left

    def __add__(self, other: Usage) -> Usage:
        """Both counted together (no cap, no parent)."""
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cost_usd + other.cost_usd,
            self.calls + other.calls,
            self.unpriced + other.unpriced,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "calls": self.calls,
            "unpriced": self.unpriced,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(
            prompt_tokens=int(data.get("prompt_tokens", 0)),
            completion_tokens=int(data.get("completion_tokens", 0)),
            cost_usd=float(data.get("cost_usd", 0.0)),
            calls=int(data.get("calls", 0)),
            unpriced=int(data.get("unpriced", 0)),
        )
