-- schedule_due: what is due now, by the server's clock, and when the next run is.
-- KEYS[1] due      ZSET name -> due ms
-- KEYS[2] defs     HASH name -> definition JSON
-- KEYS[3] runs     HASH name -> runs fired
-- KEYS[4] last     HASH name -> last-run JSON
-- KEYS[5] version  counter bumped by every change
-- ARGV[1] most schedules to return
-- Returns {server now as "seconds.micros", next due ms or false, version or false, count due,
--          name, due ms, definition JSON, runs, last JSON or false, ...}:
-- first every schedule due at or before now (up to ARGV[1], `count due` of them),
-- then those due next, at `next due ms` (up to ARGV[1]), so that a loop can fire
-- them the moment they are due without reading first. Next due is the earliest
-- due time after now (or of the first due schedule not returned).
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local limit = tonumber(ARGV[1])
-- The precise time as a string: a Lua number would reach the client truncated.
local precise = clock[1] .. '.' .. string.format('%06d', tonumber(clock[2]))
local out = {precise, false, redis.call('GET', KEYS[5]) or false, 0}

local function add_items(found)
  for i = 1, #found, 2 do
    local name, n = found[i], #out
    out[n + 1] = name
    out[n + 2] = found[i + 1]
    out[n + 3] = redis.call('HGET', KEYS[2], name) or false
    out[n + 4] = redis.call('HGET', KEYS[3], name) or '0'
    out[n + 5] = redis.call('HGET', KEYS[4], name) or false
  end
end

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
add_items(due)
out[4] = #due / 2
if #due / 2 >= limit then
  local following = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf', 'WITHSCORES', 'LIMIT', limit, 1)
  if #following > 0 then out[2] = following[2] end
else
  local following = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #following > 0 then
    out[2] = following[2]
    add_items(redis.call('ZRANGEBYSCORE', KEYS[1], following[2], following[2], 'WITHSCORES',
      'LIMIT', 0, limit))
  end
end
return out
