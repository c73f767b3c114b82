-- schedule_remove: delete one schedule and everything kept about it.
-- KEYS[1] defs     HASH name -> definition JSON
-- KEYS[2] due      ZSET name -> due ms
-- KEYS[3] meta     HASH name -> meta JSON
-- KEYS[4] version  counter bumped by every change
-- KEYS[5] runs     HASH name -> runs fired
-- KEYS[6] last     HASH name -> last-run JSON
-- ARGV[1] name
-- ARGV[2] change channel
-- Returns 1 if it existed, 0 if not.
local name = ARGV[1]
local existed = redis.call('HDEL', KEYS[1], name)
redis.call('ZREM', KEYS[2], name)
redis.call('HDEL', KEYS[3], name)
redis.call('HDEL', KEYS[5], name)
redis.call('HDEL', KEYS[6], name)
if existed == 1 then
  redis.call('INCR', KEYS[4])
  redis.call('PUBLISH', ARGV[2], name)
end
return existed
