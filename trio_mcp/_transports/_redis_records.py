"""The Redis layout of shared legacy sessions: key names and the scripts that change them.

Used by :class:`~._redis_sessions.SharedSessions` (see there for the rules):
each script changes a record and what hangs off it (the live set, the
subscriber sets, the pub/sub notice to the other workers) in one round trip,
atomically.
"""

from __future__ import annotations

__all__ = ["ALIVE", "DROP", "EVERYONE", "LIVE", "LOAD", "OPEN", "PREFIX", "SAVE", "SUBS", "TOUCH"]

PREFIX = "trio_mcp:session:"
LIVE = "trio_mcp:sessions"
SUBS = "trio_mcp:subs:"
EVERYONE = "trio_mcp:sessions:all"
#: ``<worker>``: exists while the worker's heartbeat is fresh (its POST streams live).
ALIVE = "trio_mcp:sessions:alive:"

#: KEYS: the record, the live set; ARGV: state, subject, ttl ms, session id, record
#: prefix. Two ids of the live set are checked, and leave it if their record expired:
#: the set stays within about twice the live sessions, with or without fan-outs.
OPEN = """
for _, sid in ipairs(redis.call('SRANDMEMBER', KEYS[2], 2)) do
  if redis.call('EXISTS', ARGV[5] .. sid) == 0 then redis.call('SREM', KEYS[2], sid) end
end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'u', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
return 1
"""
#: Refresh a record's subscriber sets (``+<uri>`` fields) with it: a set expires once
#: no live session subscribed to its URI refreshed it. ARGV[1] ttl ms, ARGV[2] prefix.
_SUBS = """
local function refresh_subs(fields, step)
  for i = 1, #fields, step do
    local f = fields[i]
    if string.sub(f, 1, 1) == '+' then redis.call('PEXPIRE', ARGV[2] .. string.sub(f, 2), ARGV[1]) end
  end
end
"""
#: KEYS[1] the record; ARGV: ttl ms, subs prefix. Its fields (refreshed), or nil.
LOAD = (
    _SUBS
    + """
local found = redis.call('HGETALL', KEYS[1])
if #found == 0 then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
refresh_subs(found, 2)
return found
"""
)
#: KEYS: records; ARGV: ttl ms, subs prefix, events prefix, record prefix length. 1 per
#: record still there (refreshed, with its GET stream's events: a quiet GET keeps them), else 0.
TOUCH = (
    _SUBS
    + """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('PEXPIRE', key, ARGV[1])
  if out[i] == 1 then
    refresh_subs(redis.call('HKEYS', key), 1)
    local events = ARGV[3] .. string.sub(key, tonumber(ARGV[4]) + 1)
    redis.call('PEXPIRE', events, ARGV[1])
    redis.call('PEXPIRE', events .. ':g', ARGV[1])
    redis.call('PEXPIRE', events .. ':g:bytes', ARGV[1])
  end
end
return out
"""
)
#: KEYS[1] the record; ARGV: level, ttl ms, session id, subs prefix, channel, payload,
#: how many URIs were added, then the added URIs, then the removed ones. 0: gone.
SAVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'l', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local added = 7 + tonumber(ARGV[7])
for i = 8, #ARGV do
  if i <= added then
    redis.call('HSET', KEYS[1], '+' .. ARGV[i], '1')
    redis.call('SADD', ARGV[4] .. ARGV[i], ARGV[3])
    redis.call('PEXPIRE', ARGV[4] .. ARGV[i], ARGV[2])
  else
    redis.call('HDEL', KEYS[1], '+' .. ARGV[i])
    redis.call('SREM', ARGV[4] .. ARGV[i], ARGV[3])
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
"""
#: KEYS: the record, the live set; ARGV: session id, subs prefix, channel, payload.
DROP = """
local fields = redis.call('HKEYS', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if #fields == 0 then return 0 end
for _, field in ipairs(fields) do
  if string.sub(field, 1, 1) == '+' then
    redis.call('SREM', ARGV[2] .. string.sub(field, 2), ARGV[1])
  end
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"""
