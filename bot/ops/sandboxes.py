"""``ml-intern-bot sandboxes``: the sandboxes the sessions in Redis know, and ending one."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from agent.sandbox.backends import STATE_KEY, SandboxRecord
from agent.sandbox.manager import Sandboxes
from bot.approvals.costs import CostEstimator
from bot.store import redis_keys

FREE_BACKENDS = frozenset({"local"})
"""Backends that cost nothing by the hour (the bot's own host)."""


@dataclass(frozen=True)
class Known:
    session: str
    record: SandboxRecord
    alive: bool


async def known_sandboxes(redis: Redis, sandboxes: Sandboxes) -> list[Known]:
    """Every sandbox a session in Redis names, oldest first, and whether it still answers."""
    prefix = redis_keys.session("")
    found = []
    async for key in redis.scan_iter(match=prefix + "*"):
        raw = await redis.get(key)
        try:
            state = json.loads(raw or "{}").get("state") or {}
        except ValueError:
            continue
        if isinstance(state.get(STATE_KEY), dict):
            record = SandboxRecord.from_json(state[STATE_KEY])
            alive = sandboxes.backend is not None and record.backend == sandboxes.backend.name
            alive = alive and await sandboxes.backend.alive(record)  # type: ignore[union-attr]
            found.append(Known(key.decode()[len(prefix) :], record, alive))
    return sorted(found, key=lambda k: k.record.created)


def cost_so_far(record: SandboxRecord, prices: CostEstimator, now: float) -> float:
    if record.backend in FREE_BACKENDS:
        return 0.0
    return prices.hourly(record.hardware) * max(0.0, now - record.created) / 3600


def format_table(known: list[Known], now: float | None = None) -> str:
    """id, backend, hardware, age, state, cost so far and session, one sandbox a line."""
    if not known:
        return "No session has a sandbox."
    now, prices = now or time.time(), CostEstimator()
    rows = [("id", "backend", "hardware", "age", "state", "cost", "session")]
    for k in known:
        age = int(now - k.record.created)
        rows.append(
            (
                k.record.id,
                k.record.backend,
                k.record.hardware,
                f"{age // 3600}h{age % 3600 // 60:02d}m",
                "running" if k.alive else "gone",
                f"${cost_so_far(k.record, prices, now):.2f}",
                k.session,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )
