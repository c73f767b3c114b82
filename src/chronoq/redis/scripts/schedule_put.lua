-- schedule_put: create or replace one schedule and set when it is next due.
-- KEYS[1] defs     HASH name -> definition JSON
-- KEYS[2] due      ZSET name -> due ms
-- KEYS[3] meta     HASH name -> meta JSON
-- KEYS[4] version  counter bumped by every change
-- KEYS[5] runs     HASH name -> runs fired
-- KEYS[6] last     HASH name -> last-run JSON
-- ARGV[1] name
-- ARGV[2] definition JSON
-- ARGV[3] next due epoch ms, '' for none (paused, or no run left)
-- ARGV[4] meta JSON
-- ARGV[5] change channel
-- ARGV[6] '1' to reset its run count and last run (a new schedule), else '0'
-- Returns the new version number.
local name = ARGV[1]
redis.call('HSET', KEYS[1], name, ARGV[2])
redis.call('HSET', KEYS[3], name, ARGV[4])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], name)
else
  redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), name)
end
if ARGV[6] == '1' then
  redis.call('HDEL', KEYS[5], name)
  redis.call('HDEL', KEYS[6], name)
end
local version = redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[5], name)
return version
