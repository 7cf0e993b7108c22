"""Per-thread auto-approve budgets in Redis: a cap in USD and what has been spent under it.

A thread with a budget runs calls that would wait for approval at once, as long
as their estimated cost keeps the spend within the cap. Spending is one Lua
script, so two calls racing for the last dollars can't both get them. The cost of
the thread's model calls (where the model's price is known) is counted as spent
too, as each turn goes (:meth:`Budgets.charge`), so what its turns read and think
leaves less for jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.store import redis_keys

MAX_CAP_USD = 10_000.0

# KEYS: budget hash. ARGV: cost. Returns 1 when spent, 0 when over the cap or no budget.
_SPEND = """
local cap = tonumber(redis.call('HGET', KEYS[1], 'cap') or '-1')
if cap < 0 then return 0 end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local cost = tonumber(ARGV[1])
if spent + cost > cap + 1e-9 then return 0 end
redis.call('HSET', KEYS[1], 'spent', tostring(spent + cost))
return 1
"""


@dataclass(frozen=True)
class Budget:
    cap: float
    spent: float

    @property
    def left(self) -> float:
        return max(0.0, self.cap - self.spent)

    def describe(self) -> str:
        return f"auto-approve budget ${self.spent:.2f} of ${self.cap:.2f} spent"


class Budgets:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._spend = redis.register_script(_SPEND)

    @staticmethod
    def _key(session_key: str) -> str:
        return redis_keys.budget(session_key)

    async def get(self, session_key: str) -> Budget | None:
        raw = await self.redis.hgetall(self._key(session_key))
        if b"cap" not in raw:
            return None
        return Budget(float(raw[b"cap"]), float(raw.get(b"spent", b"0")))

    async def set_cap(self, session_key: str, cap: float) -> Budget:
        """Turn auto-approve on (or change its cap); what was spent stays counted."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(session_key), "cap", str(cap))
            pipe.hsetnx(self._key(session_key), "spent", "0")
            pipe.expire(self._key(session_key), self.ttl)
            pipe.sadd(redis_keys.BUDGETS, session_key)
            pipe.incr(redis_keys.CHANGES)
            await pipe.execute()
        budget = await self.get(session_key)
        assert budget is not None
        return budget

    async def extend(self, session_key: str, amount: float) -> Budget:
        """Raise the cap by ``amount`` (the 'Extend budget and approve' button)."""
        await self.redis.hincrbyfloat(self._key(session_key), "cap", amount)
        await self.redis.hsetnx(self._key(session_key), "spent", "0")
        await self.redis.incr(redis_keys.CHANGES)
        budget = await self.get(session_key)
        assert budget is not None
        return budget

    async def turn_off(self, session_key: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(session_key))
            pipe.srem(redis_keys.BUDGETS, session_key)
            pipe.incr(redis_keys.CHANGES)
            await pipe.execute()

    async def try_spend(self, session_key: str, cost: float) -> bool:
        """Spend ``cost`` if the thread has a budget and it stays within the cap."""
        spent = bool(await self._spend(keys=[self._key(session_key)], args=[repr(cost)]))
        if spent:
            await self.redis.incr(redis_keys.CHANGES)
        return spent

    async def charge(self, session_key: str, cost: float) -> None:
        """Count ``cost`` spent beyond auto-approve: a call a person approved, a turn's
        model calls (only when a budget exists; it may go past the cap)."""
        if await self.get(session_key) is not None:
            await self.redis.hincrbyfloat(self._key(session_key), "spent", cost)
            await self.redis.incr(redis_keys.CHANGES)

    async def all(self) -> dict[str, Budget]:
        """Every thread's budget by session key (keys whose budget expired are dropped)."""
        keys = sorted(k.decode() for k in await self.redis.smembers(redis_keys.BUDGETS))
        found: dict[str, Budget] = {}
        for key in keys:
            budget = await self.get(key)
            if budget is None:
                await self.redis.srem(redis_keys.BUDGETS, key)
            else:
                found[key] = budget
        return found


def parse_cap(text: str) -> float | None:
    """A budget as people type it: ``$20``, ``20``, ``12.5 usd``; ``off``/``0`` is None."""
    value = text.strip().lower().removeprefix("$").removesuffix("usd").strip().rstrip("$")
    if value in ("off", "none", "stop", ""):
        return None
    try:
        cap = float(value.replace(",", ""))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not an amount: try `auto-approve $20`.") from None
    if cap == 0:
        return None
    if not 0 < cap <= MAX_CAP_USD:
        raise ValueError(f"A budget is between $0 and ${MAX_CAP_USD:,.0f}.")
    return cap


def budget_reply(budget: Budget | None) -> str:
    """What the thread is told after a budget change."""
    if budget is None:
        return "🤖 Auto-approve is off: every costly call waits for a click."
    return (
        f"🤖 Auto-approve on: calls run at once while this thread's estimated spend stays "
        f"under ${budget.cap:.2f} (${budget.spent:.2f} spent; the thread's model calls count "
        "too). Scheduled jobs and calls the team rules reserve still wait for a person."
    )
