"""People's ratings of turns: 👍 / 👎 on a final answer, and what went wrong after a 👎.

Ratings go to their own Redis stream, ``mib:feedback``, a sibling of the approval
audit stream (``mib:audit``): one entry per person per turn. Rating the same turn
again (the other button, or the text of the "what went wrong" form) replaces that
person's entry — the old one is deleted and the new one appended in one Lua script —
so the stream holds each person's latest rating of each turn. Anyone in the thread may
rate. ``ml-intern-bot audit --feedback`` prints them; with session traces on, the
runner also hands each rating to the tracer (:meth:`bot.telemetry.traces.Tracer.rated`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

from bot.approvals.actor import Actor
from bot.approvals.audit import stream_entries, utc
from bot.output.views import THUMBS
from bot.store import redis_keys

RATINGS = ("up", "down")
MAX_ENTRIES = 1_000_000
"""The stream is trimmed (approximately) past this many entries."""
COMMENT_CHARS = 2000
"""The longest "what went wrong" kept."""

_REPLACE = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('XDEL', KEYS[1], old) end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 4))
redis.call('HSET', KEYS[2], ARGV[1], id)
redis.call('EXPIRE', KEYS[2], ARGV[3])
return id
"""
"""KEYS: the stream, the session's index; ARGV: ``<turn>:<user>``, maxlen, TTL, then the fields."""


@dataclass(frozen=True)
class Rating:
    """One person's rating of one turn: ``rating`` is ``up`` or ``down``."""

    session_key: str
    turn_id: str
    rating: str
    by: str
    at: float
    by_name: str = ""
    comment: str = ""
    """What went wrong, when the person said (after a 👎)."""
    id: str = ""
    """The stream entry id, filled in when stored or read back."""

    @classmethod
    def now(
        cls, key: str, turn_id: str, actor: Actor, rating: str, comment: str | None = None
    ) -> Rating:
        """The rating ``actor`` gives turn ``turn_id`` of session ``key`` now."""
        return cls(
            session_key=key,
            turn_id=turn_id,
            rating=rating,
            by=actor.user_id,
            at=time.time(),
            by_name=actor.name,
            comment=(comment or "").strip()[:COMMENT_CHARS],
        )


class FeedbackLog:
    """The ``mib:feedback`` stream: each person's latest rating of each turn."""

    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._replace = redis.register_script(_REPLACE)

    async def record(self, rating: Rating) -> Rating:
        """Store ``rating`` in place of the person's earlier rating of the turn; with its id."""
        if rating.rating not in RATINGS:
            raise ValueError(f"a rating is one of {RATINGS}, not {rating.rating!r}")
        fields = [
            item
            for name, value in asdict(rating).items()
            if name != "id"
            for item in (name, json.dumps(value, ensure_ascii=False))
        ]
        entry_id = await self._replace(
            keys=[redis_keys.FEEDBACK, redis_keys.rated(rating.session_key)],
            args=[f"{rating.turn_id}:{rating.by}", MAX_ENTRIES, self.ttl, *fields],
        )
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        return Rating(**{**asdict(rating), "id": entry_id})

    async def read(
        self, *, thread: str | None = None, since: float | None = None, limit: int = 10_000
    ) -> list[Rating]:
        """Ratings oldest first (by their latest change), from ``since``, of one session key."""
        entries = await stream_entries(self.redis, redis_keys.FEEDBACK, since, limit)
        ratings = [Rating(**data, id=entry_id) for entry_id, data in entries]
        return [r for r in ratings if thread in (None, r.session_key)]


def format_table(ratings: list[Rating]) -> str:
    """One line per rating, for people."""
    if not ratings:
        return "no ratings"
    lines = []
    for r in ratings:
        thumb = THUMBS.get(r.rating, "?")
        comment = f"  “{' '.join(r.comment.split())}”" if r.comment else ""
        lines.append(
            f"{utc(r.at)}  {thumb} {r.rating:<4} by {r.by_name or r.by:<12} "
            f"{r.session_key}  turn {r.turn_id}{comment}  [{r.id}]"
        )
    return "\n".join(lines)
