-- limit_acquire: decide, for a batch of starts under one named limit, when each
-- may start; book that time (a reservation) so a deferred job is decided once.
-- KEYS[1] config        limit config HASH (ver, kind, n, per_ms, burst, gap_ms)
-- KEYS[2] state_prefix  key state prefix (+ limit key: HASH tat, last, blk, v (config version),
--   r:<period index> starts booked per clock period (rate), q:<period ms> (quota))
-- KEYS[3] keys          ZSET limit key -> last decision ms, for operators' views
-- KEYS[4] booked        ZSET job ref -> booked ms: a change of the limit releases these
-- KEYS[5] use_prefix    quota use history prefix (+ local ISO day: HASH limit key ->
--   starts granted in that day's periods; PEXPIREAT set when the HASH is made)
-- ARGV[1] config version the caller computed its calendars from
-- ARGV[2] number of requests
-- ARGV[3..] per request, 5 values:
--   limit key, reservation ms (0: none; -1: now or not at all: a start that
--   cannot be now is answered -(epoch ms) and nothing is booked or counted, as the
--   HTTP API's per-token rate limit asks), block-until ms (0: none; RateLimited
--   raised with retry_after: nothing under this key starts before it),
--   calendar JSON: rate limits: merged allowed intervals [[start, end], ...]
--   ([] always open), or [[start, end, emission ms], ...] where windows carry
--   their own rate (a start inside uses that span's emission interval);
--   quotas: {"s": upcoming period starts [p0, p1, ...] (p0 <= now), "d": the
--   local ISO day of each start but the last, "k": ms the use history keeps a day
--   after it (0: no history)},
--   job ref ('<queue> <id>') recorded with a future booking
-- A key's state written under an older version is reset to the present (bookings
-- made under it were released by the change, and their jobs decide again).
-- Returns {-1} when the config changed (or is gone: {-2}); else one number per
-- request: 0 start now, or the epoch ms it is booked for (>0), or -(epoch ms) to
-- ask again then without a booking (no room within the calendar's horizon).
local now = now_ms()
local cfg = redis.call('HMGET', KEYS[1], 'ver', 'kind', 'n', 'per_ms', 'burst', 'gap_ms')
if not cfg[1] then return {-2} end
if cfg[1] ~= ARGV[1] then return {-1} end
local kind, n, per = cfg[2], tonumber(cfg[3]), tonumber(cfg[4])
local T = per / n
local burst, gap = tonumber(cfg[5]), tonumber(cfg[6])
local EARLY_MS = 50  -- a booked job claimed this early still starts

-- First instant >= base that the budget (tat, less the burst at the span's rate)
-- and the calendar allow, with the emission interval there; nil past the horizon.
local function in_window(base, tat, spans)
  if #spans == 0 then return math.max(base, tat - burst * T), T end
  for _, s in ipairs(spans) do
    local emission = s[3] or T
    local t = math.max(base, tat - burst * emission, s[1])
    if t < s[2] then return t, emission end
  end
  return nil
end

-- Drop a key's per-period counts (fields `tag`<period>) of periods before `first`.
local function prune_counts(skey, tag, first)
  for _, f in ipairs(redis.call('HKEYS', skey)) do
    if string.sub(f, 1, 2) == tag and tonumber(string.sub(f, 3)) < first then
      redis.call('HDEL', skey, f)
    end
  end
end

local function book_rate(skey, res, blk_req, spans)
  local s = redis.call('HMGET', skey, 'tat', 'last', 'blk', 'v')
  local tat, last = tonumber(s[1] or '0'), tonumber(s[2] or '-1e15')
  if s[4] ~= ARGV[1] then tat, last = math.min(tat, now), math.min(last, now) end
  local blk = math.max(tonumber(s[3] or '0'), blk_req)
  if blk_req > 0 then redis.call('HSET', skey, 'blk', blk) end
  if res > 0 and res <= now + EARLY_MS and now >= blk then return 0 end
  local t, emission = in_window(math.max(now, last + gap, blk), tat, spans)
  if not t then return -spans[#spans][2] end
  if res < 0 and t > now then return -t end  -- now only: nothing booked
  tat = math.max(tat, t) + emission
  redis.call('HSET', skey, 'tat', tat, 'last', t, 'v', ARGV[1])
  if redis.call('HINCRBY', skey, 'r:' .. math.floor(t / per), 1) == 1 then
    prune_counts(skey, 'r:', math.floor(now / per))  -- a new period: drop ended ones
  end
  redis.call('PEXPIRE', skey, math.ceil(math.max(tat, blk) - now + per + gap))
  if t <= now then return 0 end
  return t
end

-- Count one start granted in period i under the quota's use history of its day.
local function record_use(key, cal, i)
  if cal.k <= 0 then return end
  local ukey = KEYS[5] .. cal.d[i]
  if redis.call('HINCRBY', ukey, key, 1) == 1 and redis.call('PTTL', ukey) == -1 then
    redis.call('PEXPIREAT', ukey, cal.s[i] + 86400000 + cal.k)
  end
end

local function book_quota(key, skey, res, blk_req, cal)
  local starts = cal.s
  if redis.call('HGET', skey, 'v') ~= ARGV[1] then  -- drop bookings of later periods
    for _, f in ipairs(redis.call('HKEYS', skey)) do
      if string.sub(f, 1, 2) == 'q:' and tonumber(string.sub(f, 3)) > starts[1] then
        redis.call('HDEL', skey, f)
      end
    end
    redis.call('HSET', skey, 'v', ARGV[1])
  end
  local blk = math.max(tonumber(redis.call('HGET', skey, 'blk') or '0'), blk_req)
  if blk_req > 0 then redis.call('HSET', skey, 'blk', blk) end
  if res > 0 and res <= now + EARLY_MS and now >= blk then return 0 end
  for i = 1, #starts - 1 do
    local t = math.max(now, starts[i], blk)
    if t < starts[i + 1] then
      local used = tonumber(redis.call('HGET', skey, 'q:' .. starts[i]) or '0')
      if used < n then
        if res < 0 and t > now then return -t end  -- now only: nothing counted
        redis.call('HINCRBY', skey, 'q:' .. starts[i], 1)
        record_use(key, cal, i)
        redis.call('PEXPIREAT', skey, starts[#starts] + per)
        if t <= now then return 0 end
        return t
      end
    end
  end
  return -starts[#starts]
end

local out = {}
local calendars = {}
local count = tonumber(ARGV[2])
for i = 0, count - 1 do  -- every calendar decoded and checked before anything is written
  local raw = ARGV[6 + 5 * i]
  if not calendars[raw] then
    local cal = cjson.decode(raw)
    if kind == 'quota' and (type(cal) ~= 'table' or type(cal.s) ~= 'table'
        or type(cal.d) ~= 'table' or #cal.d < #cal.s - 1 or type(cal.k) ~= 'number') then
      return redis.error_reply('limit_acquire: a quota calendar needs s, d and k')
    end
    calendars[raw] = cal
  end
end
for i = 0, count - 1 do
  local key, res = ARGV[3 + 5 * i], tonumber(ARGV[4 + 5 * i])
  local blk_req, raw, ref = tonumber(ARGV[5 + 5 * i]), ARGV[6 + 5 * i], ARGV[7 + 5 * i]
  local cal = calendars[raw]
  local skey = KEYS[2] .. key
  local answer
  if kind == 'quota' then
    prune_counts(skey, 'q:', cal.s[1])
    answer = book_quota(key, skey, res, blk_req, cal)
  else
    answer = book_rate(skey, res, blk_req, cal)
  end
  if answer > 0 then redis.call('ZADD', KEYS[4], answer, ref) end
  out[#out + 1] = answer
  redis.call('ZADD', KEYS[3], now, key)
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)  -- bookings come due: nothing to release
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - 8 * 86400000)  -- keys idle a week
return out
