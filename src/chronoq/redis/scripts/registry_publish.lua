-- registry_publish: publish a process's task definitions, or refresh its liveness.
-- KEYS[1] tasks       HASH task name -> definition JSON
-- KEYS[2] publishers  HASH publisher id -> publisher JSON
-- KEYS[3] alive       ZSET publisher id -> expiry ms
-- ARGV[1] publisher id
-- ARGV[2] time to live, ms (a heartbeat must come back within it)
-- ARGV[3] publisher JSON; '' to refresh only (the entry must exist)
-- ARGV[4..] task name, definition JSON, task name, definition JSON, ...
-- Returns 1, or 0 when a refresh finds no entry (expired after a long pause): the
-- caller publishes in full. Publishers whose time ran out are removed (their
-- definitions stay: a producer may still enqueue for a worker that restarts).
local id, ttl, entry = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if not ttl or ttl < 1 or id == '' then
  return redis.error_reply('bad registry publish: needs a publisher id and a ttl >= 1 ms')
end
if (#ARGV - 3) % 2 ~= 0 then
  return redis.error_reply('bad registry publish: task names and definitions must pair')
end
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, gone in ipairs(expired) do
  redis.call('HDEL', KEYS[2], gone)
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
if entry == '' then
  if redis.call('HEXISTS', KEYS[2], id) == 0 then return 0 end
else
  redis.call('HSET', KEYS[2], id, entry)
end
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('ZADD', KEYS[3], now + ttl, id)
return 1
