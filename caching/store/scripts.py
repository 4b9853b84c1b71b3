"""
The Lua scripts of the stamped store, and their registration (EVALSHA).

Each script touches one entry together with the clock, floor, stamps and
counters it is checked against, all in one hash slot (caching.store.keys), so a
hit, a fill or an invalidation of one shard is one atomic round trip.
"""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from caching.store import client

# The clock starts from the server's time in microseconds, so that it never goes
# backwards across a Redis restart that lost it: an asof taken before the
# restart stays below every stamp written after it.
CLOCK_INIT = """
local function clock_now(key)
  local now = redis.call('GET', key)
  if not now then
    local t = redis.call('TIME')
    now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
    redis.call('SET', key, now, 'NX')
    now = redis.call('GET', key)
  end
  return now
end
-- The stamps of deps, one HMGET per relation (a page's twenty rows of one table
-- in one call, not twenty HGETs), in slices that stay within Lua's stack.
local function deps_fresh_grouped(vprefix, deps, asof, own)
  local fields, labels = {}, {}
  for label, field in string.gmatch(deps, '([^;|]+)|([^;]+)') do
    local list = fields[label]
    if not list then
      list = {}
      fields[label] = list
      labels[#labels + 1] = label
    end
    list[#list + 1] = field
  end
  for i = 1, #labels do
    local list = fields[labels[i]]
    for first = 1, #list, 512 do
      local stamps = redis.call('HMGET', vprefix .. labels[i],
                                unpack(list, first, math.min(first + 511, #list)))
      for j = 1, #stamps do
        local stamp = stamps[j]
        if stamp and stamp ~= own and tonumber(stamp) > asof then return false end
      end
    end
  end
  return true
end
-- An entry as the app stores it, "asof\\ndeps\\npayload": its asof and deps;
-- nil for anything else (not the app's: a miss, not a script error that would
-- open the circuit breaker).
local function parse_entry(raw)
  local nl1 = string.find(raw, '\\n', 1, true)
  if not nl1 then return nil end
  local nl2 = string.find(raw, '\\n', nl1 + 1, true)
  local asof = tonumber(string.sub(raw, 1, nl1 - 1))
  if not nl2 or not asof then return nil end
  return asof, string.sub(raw, nl1 + 1, nl2 - 1)
end
-- own (optional): a stamp that counts as fresh, the writer's own (FILL_WRITTEN);
-- seen (optional): stamps read already by this call (READ_MANY's entries share
-- their relations' stamps), false for none
local function deps_fresh(vprefix, deps, asof, own, seen)
  if not seen then return deps_fresh_grouped(vprefix, deps, asof, own) end
  for dep, label, field in string.gmatch(deps, '(([^;|]+)|([^;]+))') do
    local stamp = seen[dep]
    if stamp == nil then
      stamp = redis.call('HGET', vprefix .. label, field)
      seen[dep] = stamp
    end
    if stamp and stamp ~= own and tonumber(stamp) > asof then return false end
  end
  return true
end
"""

# KEYS: entry, lease, clock, stats, floor. ARGV: version prefix, lease token,
# lease ms, stats group ('' = do not count), '1' when a reread
# (caching.store.rereads) counted a hit for this read already, to take back.
# Returns {1, the entry as stored: "asof\ndeps\npayload"} on a hit (the
# payload's seal covers asof and deps), else {0, asof, is_leader}; anything
# else under the entry's key is a miss. Counting here keeps a hit at one round
# trip. The floor is set after a failover (caching.store.fence): entries filled
# before it are dead.
READ = (
    CLOCK_INIT
    + """
if ARGV[5] == '1' and ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[4], 'hit:' .. ARGV[4], -1)
end
local raw = redis.call('GET', KEYS[1])
local asof, deps
if raw then asof, deps = parse_entry(raw) end
if asof and asof >= tonumber(redis.call('GET', KEYS[5]) or 0)
   and deps_fresh(ARGV[1], deps, asof) then
  if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[4], 'hit:' .. ARGV[4], 1) end
  return {1, raw}  -- split by the caller: no copy of the payload here
end
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[4], 'miss:' .. ARGV[4], 1) end
local now = clock_now(KEYS[3])
local leader = 0
if tonumber(ARGV[3]) > 0 then
  -- (or it holds this read's own token: the same read sent again after its
  -- connection broke, caching.store.client._sent)
  if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3])
     or redis.call('GET', KEYS[2]) == ARGV[2] then leader = 1 end
end
return {0, now, leader}
"""
)

# KEYS: clock, stats, floor, then entries of that shard. ARGV: version prefix,
# stats group ('' = do not count). READ for many entries at once, without
# leases: one script call for a page's twenty. Returns {the clock ('0' when
# every entry is a hit, else read before the caller queries), then per entry
# the entry as stored on a hit, else 0}.
READ_MANY = (
    CLOCK_INIT
    + """
local floor = tonumber(redis.call('GET', KEYS[3]) or 0)
local seen = {}
local found = {'0'}
local hits = 0
for i = 4, #KEYS do
  local reply = 0
  local raw = redis.call('GET', KEYS[i])
  local asof, deps
  if raw then asof, deps = parse_entry(raw) end
  if asof and asof >= floor and deps_fresh(ARGV[1], deps, asof, nil, seen) then
    reply = raw
    hits = hits + 1
  end
  found[i - 2] = reply
end
local misses = #KEYS - 3 - hits
if misses > 0 then found[1] = clock_now(KEYS[1]) end
if ARGV[2] ~= '' then
  if hits > 0 then redis.call('HINCRBY', KEYS[2], 'hit:' .. ARGV[2], hits) end
  if misses > 0 then redis.call('HINCRBY', KEYS[2], 'miss:' .. ARGV[2], misses) end
end
return found
"""
)

# KEYS: entry, lease, stats, floor. ARGV: version prefix, asof, deps, payload,
# ttl, token, stats group. Returns 1 when stored, 0 when a dependency changed
# after asof (a "fill conflict": the read overlapped a write) or asof is below
# the floor.
FILL = (
    CLOCK_INIT
    + """
local stored = 0
local asof = tonumber(ARGV[2])
if asof >= tonumber(redis.call('GET', KEYS[4]) or 0)
   and deps_fresh(ARGV[1], ARGV[3], asof) then
  redis.call('SET', KEYS[1], ARGV[2] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4],
             'EX', ARGV[5])
  stored = 1
elseif ARGV[7] ~= '' then
  redis.call('HINCRBY', KEYS[3], 'conflict:' .. ARGV[7], 1)
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[2]) == ARGV[6] then
  redis.call('DEL', KEYS[2])
end
return stored
"""
)

# KEYS: clock, stats, recent, then the changed objects' own entries in this
# shard (deleted: the seed's DEL). ARGV: version prefix, deps, count ('1': count
# the invalidation and keep it among the last 50 for the admin page, done in
# shard 0 only). Returns {the new clock, the greatest stamp it replaced on a
# row}: a write-through fill from the written row needs to know that no other
# write stamped the row since the row was read (FILL_WRITTEN).
INVALIDATE = (
    CLOCK_INIT
    + """
local ENCODING_MARK = string.rep('0', 1024)  -- a number (0) to older compactions
clock_now(KEYS[1])
local now = redis.call('INCR', KEYS[1])
local seen = {}
local replaced = 0
for label, field in string.gmatch(ARGV[2], '([^;|]+)|([^;]+)') do
  if string.sub(field, 1, 1) ~= '#' and field ~= '*' then  -- a row's stamp
    local old = tonumber(redis.call('HGET', ARGV[1] .. label, field) or 0)
    if old > replaced then replaced = old end
  end
  redis.call('HSET', ARGV[1] .. label, field, now)
  if not seen[label] then
    seen[label] = true
    -- A value longer than hash-max-listpack-value keeps the hash a hashtable:
    -- a stamp lookup is O(1), not a scan of a listpack of up to 512 fields.
    redis.call('HSETNX', ARGV[1] .. label, '~', ENCODING_MARK)
    if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'inval:' .. label, 1) end
  end
end
if #KEYS > 3 then redis.call('UNLINK', unpack(KEYS, 4)) end
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  redis.call('LPUSH', KEYS[3], t[1] .. ' ' .. string.sub(ARGV[2], 1, 200))
  redis.call('LTRIM', KEYS[3], 0, 49)
end
return {now, string.format('%.0f', replaced)}
"""
)

# KEYS: clock, floor, ticks. ARGV: horizon in microseconds. Compaction, step 1:
# record when the clock had its current value (ticks: clock value -> the first
# server time it was seen), then raise the floor to the clock value of the
# latest tick older than the horizon. An entry whose asof is below that value
# was read before that tick, so longer ago than the horizon (the longest TTL
# and a margin): the floor kills only entries that have expired. Returns the
# floor.
RAISE_FLOOR = (
    CLOCK_INIT
    + """
local t = redis.call('TIME')
local wall = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[3], 'NX', string.format('%.0f', wall), clock_now(KEYS[1]))
local cutoff = string.format('%.0f', wall - tonumber(ARGV[1]))
local floor = tonumber(redis.call('GET', KEYS[2]) or 0)
local old = redis.call('ZREVRANGEBYSCORE', KEYS[3], cutoff, '-inf',
                       'WITHSCORES', 'LIMIT', 0, 1)
if #old == 0 then return string.format('%.0f', floor) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. old[2])
if tonumber(old[1]) > floor then
  floor = tonumber(old[1])
  redis.call('SET', KEYS[2], string.format('%.0f', floor))
end
return string.format('%.0f', floor)
"""
)

# KEYS: a stamp hash, floor. ARGV: fields. Compaction, step 2: drop the fields
# whose stamp is at most the floor. Every entry such a stamp voids has an asof
# below it, so below the floor: dead without it. Returns how many went.
COMPACT = """
local floor = tonumber(redis.call('GET', KEYS[2]) or 0)
local removed = 0
for i = 1, #ARGV do
  local stamp = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '')
  if stamp and stamp <= floor then  -- not the '~' field: no stamp
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
"""

# KEYS: entry, floor. ARGV: version prefix, base, own stamp, deps, payload, ttl.
# Write-through without reading the row back ("compare versions", I6): the value
# is a copy read as of base plus the writer's own change, stamped own. Stored as
# of own only if base is not below the floor and no dependency carries a stamp
# newer than base other than own. Returns 1 when stored.
FILL_WRITTEN = (
    CLOCK_INIT
    + """
local base = tonumber(ARGV[2])
if base < tonumber(redis.call('GET', KEYS[2]) or 0)
   or not deps_fresh(ARGV[1], ARGV[4], base, ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3] .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5],
           'EX', ARGV[6])
return 1
"""
)

# KEYS: clock. Returns the clock (for write-through fills).
NOW = CLOCK_INIT + "return clock_now(KEYS[1])"

# KEYS: lease. ARGV: token.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_registered: dict[str, Script] = {}


def call(redis: Redis | RedisCluster, source: str, keys: list, args: list) -> Any:
    """Run a script in one round trip on this thread's own connection
    (caching.store.client.direct): the hit path's read."""
    registered = script(redis, source)
    try:
        return client.direct(redis, "EVALSHA", registered.sha, len(keys), *keys, *args)
    except NoScriptError:  # a restarted or flushed server: load it again
        return registered(keys=keys, args=args, client=redis)


def script(redis: Redis | RedisCluster, source: str) -> Script:
    script = _registered.get(source)
    if script is None:
        script = _registered[source] = redis.register_script(source)
    return script
