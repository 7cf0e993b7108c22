"""The Lua scripts of the session store: each contested transition is one atomic step.

Keys come in through ``KEYS[]`` (built in :mod:`bot.store.redis_keys`); no script builds a
key name itself.
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
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
