-- schedule_due: what is due now, by the server's clock, and when the next run is.
-- KEYS[1] due ZSET   KEYS[2] defs HASH   KEYS[3] runs HASH   KEYS[4] last HASH
-- KEYS[5] version counter
-- ARGV[1] most schedules to return
-- Returns {server now ms, next due ms or false, version or false,
--          name, due ms, definition JSON, runs, last JSON or false, ...}
-- for every schedule due at or before now (up to ARGV[1]); next due is the
-- earliest due time after now (or of the first schedule not returned).
local now = now_ms()
local limit = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local out = {now, false, redis.call('GET', KEYS[5]) or false}
for i = 1, #due, 2 do
  local name, n = due[i], #out
  out[n + 1] = name
  out[n + 2] = due[i + 1]
  out[n + 3] = redis.call('HGET', KEYS[2], name) or false
  out[n + 4] = redis.call('HGET', KEYS[3], name) or '0'
  out[n + 5] = redis.call('HGET', KEYS[4], name) or false
end
local following
if #due / 2 >= limit then
  following = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf', 'WITHSCORES', 'LIMIT', limit, 1)
else
  following = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
end
if #following > 0 then out[2] = following[2] end
return out
