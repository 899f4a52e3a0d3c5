"""The Lua scripts of the job store: each runs atomically in Redis."""

from __future__ import annotations

# Move a job to ARGV[1] if its status is one of ARGV[2] ('*': any), setting the field pairs after.
TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if ARGV[2] ~= '*' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur then ok = true end end
  if not ok then return 0 end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# Raise the job's progress, never lowering it, on a running job only. With a part name
# (ARGV[1] non-empty) the value is that part's progress: the part is raised likewise, and the
# overall progress becomes base + span * mean(part progress).
PROGRESS = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' then return nil end
local overall = tonumber(ARGV[2])
if ARGV[1] ~= '' then
  local field = 'part:' .. ARGV[1]
  local cur = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if overall > cur then redis.call('HSET', KEYS[1], field, ARGV[2]) end
  local parts = cjson.decode(redis.call('HGET', KEYS[1], 'parts') or '[]')
  if #parts == 0 then parts = {ARGV[1]} end
  local sum, n = 0, 0
  for _, p in ipairs(parts) do
    sum = sum + tonumber(redis.call('HGET', KEYS[1], 'part:' .. p) or '0'); n = n + 1
  end
  overall = tonumber(ARGV[4]) + tonumber(ARGV[5]) * (sum / math.max(n, 1))
end
local old = tonumber(redis.call('HGET', KEYS[1], 'progress') or '0')
if overall > old then
  redis.call('HSET', KEYS[1], 'progress', string.format('%.4f', overall), 'stage', ARGV[3])
  return string.format('%.4f', overall)
end
return nil
"""

# Append an event unless its dedupe key was seen (a redelivered task repeats its events).
EMIT = """
if ARGV[2] ~= '' then
  if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return nil end
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return id
"""

# Save a new result version if the latest is still ARGV[1] ('*': whatever it is now) on a
# succeeded, undeleted job. Returns {1, new version}, {0, latest} (stale) or {-1, 0} (no result).
COMMIT_VERSION = """
if redis.call('HGET', KEYS[1], 'status') ~= 'succeeded' or redis.call('HGET', KEYS[1], 'deleted') == '1'
   or not redis.call('HGET', KEYS[1], 'result_key') then
  return {-1, 0}
end
local cur = tonumber(redis.call('HGET', KEYS[1], 'result_version') or '1')
if ARGV[1] ~= '*' and tonumber(ARGV[1]) ~= cur then return {0, cur} end
local new = cur + 1
redis.call('HSET', KEYS[1], 'result_version', tostring(new),
           'rv:' .. new, cjson.encode({key = ARGV[2], saved_at = ARGV[3], segments = tonumber(ARGV[4])}))
return {1, new}
"""

# Reserve one of an API key's unfinished-job slots for job ARGV[4] (KEYS: the key's active set,
# its reservations, a zset of job id -> expiry). Counts the key's unfinished jobs (records under
# ARGV[5] .. id whose status is not final; finished or missing ones are pruned from the set)
# plus its unexpired reservations; below ARGV[1] it adds (or renews) the reservation until
# ARGV[2] + ARGV[3]. A job that already holds a reservation renews it. Returns 1 or 0 (full).
RESERVE_SLOT = """
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[2], ARGV[4]) then
  local n = redis.call('ZCARD', KEYS[2])
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local s = redis.call('HGET', ARGV[5] .. id, 'status')
    if s == 'queued' or s == 'running' then n = n + 1 else redis.call('SREM', KEYS[1], id) end
  end
  if n >= tonumber(ARGV[1]) then return 0 end
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
redis.call('EXPIRE', KEYS[2], math.ceil(ttl) + 1)
return 1
"""

# Count a job's upload against its API key's storage quota (shared/jobs/quota.py).
# KEYS: the stored hash, the owner's sum; ARGV: job id, owner, the job's new total, the quota
# (0: none), now. Returns {1, the owner's sum} or {0, the owner's sum} when over the quota.
RESERVE_BYTES = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
local old = 0
if v then old = tonumber(string.match(v, '^%S+ (%d+)')) end
local delta = tonumber(ARGV[3]) - old
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local quota = tonumber(ARGV[4])
if delta > 0 and quota > 0 and used + delta > quota then return {0, used} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[5])
redis.call('INCRBY', KEYS[2], delta)
return {1, used + delta}
"""

# Stop counting a job's upload. KEYS: the stored hash, the job index; ARGV: job id, the owner
# sum's key around the owner (before, after), and a time: with a time, only an entry whose job
# is not in the index and that has not grown since then. Returns the bytes released.
RELEASE_BYTES = """
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local owner, n, at = string.match(v, '^(%S+) (%d+) (%S+)')
if ARGV[4] ~= '' and (redis.call('ZSCORE', KEYS[2], ARGV[1]) or tonumber(at) >= tonumber(ARGV[4])) then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DECRBY', ARGV[2] .. owner .. ARGV[3], n)
return tonumber(n)
"""
