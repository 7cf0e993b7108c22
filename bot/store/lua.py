"""The Lua scripts of the session store: each contested transition is one atomic step.

Keys come in through ``KEYS[]`` (built in :mod:`bot.store.redis_keys`); no script builds a
key name itself.
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Whether the lock KEYS[1] is still held by token ARGV[1]. If the lock and the session's
# metadata are both gone, Redis lost its data (a restart without persistence): nobody else
# can have carried the turn on, so the holder takes its lock again.
HELD = """
local function held(meta, ttl_ms)
  local holder = redis.call('GET', KEYS[1])
  if holder == ARGV[1] then return true end
  if holder or redis.call('EXISTS', meta) == 1 then return false end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl_ms)
  return true
end
"""
# KEYS: lock, meta. ARGV: token, TTL (ms).
EXTEND = (
    HELD
    + """
if held(KEYS[2], ARGV[2]) then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
)
# KEYS: lock, session, meta, lines, current, the platform's expiry index.
# ARGV: the writer's lock token, its lock TTL (ms), the session JSON ('' deletes the
# session's data), the TTL in seconds, '1' to end the running input (delete current), the
# session key and when the written session expires (its member and score in the index),
# then meta field, value pairs. Nothing is written unless the writer still holds the lock:
# a turn whose lock lapsed or was taken can no longer save over the one that carries it on.
FENCED_WRITE = (
    HELD
    + """
if not held(KEYS[3], ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('ZREM', KEYS[6], ARGV[6])
else
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
  redis.call('HSET', KEYS[3], unpack(ARGV, 8))
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('ZADD', KEYS[6], ARGV[7], ARGV[6])
end
if ARGV[5] == '1' then redis.call('DEL', KEYS[5]) end
return 1
"""
)
# KEYS: lock, meta, inbox, current. ARGV: the taker's lock token, its lock TTL (ms).
# The next input moves to current only while the lock is held (false: none, or lost).
FENCED_TAKE = (
    HELD
    + """
if not held(KEYS[2], ARGV[2]) then return {0} end
return {1, redis.call('LMOVE', KEYS[3], KEYS[4], 'LEFT', 'RIGHT')}
"""
)
# KEYS: lock, meta. ARGV: the writer's lock token, its lock TTL (ms), the TTL in seconds,
# then field, value pairs.
FENCED_NOTE = (
    HELD
    + """
if not held(KEYS[2], ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
)
# KEYS: approval hash, decisions hash, votes hash.
# ARGV: tool call id or '*', decision JSON, '1' when approving, the voter's id.
# A call whose approval hash lists it in 'required' with n > 1 is approved only by
# the n-th distinct approver; earlier approvals are votes. A rejection decides at once.
DECIDE = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status ~= 'open' then return status end
local ids = cjson.decode(redis.call('HGET', KEYS[1], 'ids'))
local required = cjson.decode(redis.call('HGET', KEYS[1], 'required') or '{}')
local approving = ARGV[3] == '1'
local ttl = redis.call('TTL', KEYS[1])
local function expire_with_approval(key)  -- an approval with no TTL keeps its keys too
  if ttl > 0 then redis.call('EXPIRE', key, ttl) end
end

local function decide(id)
  if redis.call('HEXISTS', KEYS[2], id) == 1 then return 'already' end
  local need = tonumber(required[id] or 1)
  if approving and need > 1 then
    local voters = cjson.decode(redis.call('HGET', KEYS[3], id) or '[]')
    for _, v in ipairs(voters) do if v == ARGV[4] then return 'voted' end end
    table.insert(voters, ARGV[4])
    redis.call('HSET', KEYS[3], id, cjson.encode(voters))
    expire_with_approval(KEYS[3])
    if #voters < need then return 'vote' end
  end
  redis.call('HSET', KEYS[2], id, ARGV[2])
  expire_with_approval(KEYS[2])
  return 'recorded'
end

local outcome = 'already'
if ARGV[1] == '*' then
  local rank = {already = 0, voted = 1, vote = 2, recorded = 3}
  for _, id in ipairs(ids) do
    local one = decide(id)
    if rank[one] > rank[outcome] then outcome = one end
  end
else
  local known = false
  for _, id in ipairs(ids) do if id == ARGV[1] then known = true end end
  if not known then return 'missing' end
  outcome = decide(ARGV[1])
end
if outcome == 'recorded' and redis.call('HLEN', KEYS[2]) >= #ids then
  redis.call('HSET', KEYS[1], 'status', 'decided')
  return 'complete'
end
return outcome
"""
CLOSE = """
if redis.call('HGET', KEYS[1], 'status') == 'open' then
  redis.call('HSET', KEYS[1], 'status', ARGV[1])
  return 1
end
return 0
"""
# KEYS: a platform's expiry index. ARGV: now (epoch s), how many to claim at most.
# The sessions expired by now leave the index in the step that returns them: of processes
# sweeping at once, one gets each session.
CLAIM_EXPIRED = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #expired > 0 then redis.call('ZREM', KEYS[1], unpack(expired)) end
return expired
"""
