"""Per-user and per-channel limits on starting turns, counted in Redis across processes."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import redis_keys

# KEYS: user counter, channel counter. ARGV: user limit, channel limit, window ms.
# Returns 0 when the turn may start (and counts it), else the ms until it may.
_TAKE = """
for i = 1, 2 do
  local limit = tonumber(ARGV[i])
  if limit > 0 and tonumber(redis.call('GET', KEYS[i]) or '0') >= limit then
    return math.max(redis.call('PTTL', KEYS[i]), 1)
  end
end
for i = 1, 2 do
  if tonumber(ARGV[i]) > 0 and redis.call('INCR', KEYS[i]) == 1 then
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
end
return 0
"""


class TurnLimits:
    """At most ``per_user`` / ``per_channel`` turn starts per ``window`` seconds (0: no limit)."""

    def __init__(self, redis: Redis, per_user: int, per_channel: int, window: float = 60) -> None:
        self.per_user = per_user
        self.per_channel = per_channel
        self.window_ms = int(window * 1000)
        self._take = redis.register_script(_TAKE)

    async def take(self, user: str, channel: str) -> float:
        """Count a turn start; 0 if allowed, else the seconds to wait (nothing counted)."""
        if not (self.per_user or self.per_channel):
            return 0.0
        wait_ms = await self._take(
            keys=[redis_keys.rate_user(user), redis_keys.rate_channel(channel)],
            args=[self.per_user, self.per_channel, self.window_ms],
        )
        return int(wait_ms) / 1000
