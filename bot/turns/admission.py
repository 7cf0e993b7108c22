"""What may be queued: redelivered events are dropped, oversize messages and floods refused."""

from __future__ import annotations

from typing import Any

from bot.output.messages import slow_down, too_long
from bot.store import redis_keys
from bot.store.sessions import SessionStore
from bot.telemetry.metrics import REFUSED
from bot.turns.limits import TurnLimits

MAX_INPUT_CHARS = 20_000


class Admission:
    def __init__(
        self,
        store: SessionStore,
        limits: TurnLimits | None = None,
        max_input_chars: int = MAX_INPUT_CHARS,
    ) -> None:
        self.store = store
        self.limits = limits
        self.max_input_chars = max_input_chars

    async def refusal(self, key: str, item: dict[str, Any]) -> str | None:
        """Why ``item`` must not be queued: a reply for the person, "" to drop it silently."""
        if (event_id := item.get("event_id")) and not await self.store.first_seen(event_id):
            REFUSED.labels("duplicate").inc()
            return ""
        if item.get("kind", "message") != "message":
            return None
        size = len(item.get("text", ""))
        if size > self.max_input_chars:
            REFUSED.labels("too_long").inc()
            return too_long(size, self.max_input_chars)
        if self.limits is not None:
            wait = await self.limits.take(item.get("user", ""), redis_keys.channel_of(key))
            if wait:
                REFUSED.labels("rate_limited").inc()
                return slow_down(max(wait, 1))
        return None
