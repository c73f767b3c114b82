-- schedule_retire: remove a schedule declared in code that no running app declares
-- any more, but only if it is still stored as read (an operator's change since, which
-- makes it a runtime schedule, keeps it).
-- KEYS[1] defs     HASH name -> definition JSON
-- KEYS[2] due      ZSET name -> due ms
-- KEYS[3] meta     HASH name -> meta JSON
-- KEYS[4] version  counter bumped by every change
-- KEYS[5] runs     HASH name -> runs fired
-- KEYS[6] last     HASH name -> last-run JSON
-- ARGV[1] name
-- ARGV[2] the meta JSON the caller read (origin code, the declaring app)
-- ARGV[3] change channel
-- Returns 1 when removed, 0 when it changed or is gone.
local name = ARGV[1]
if redis.call('HGET', KEYS[3], name) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], name)
redis.call('ZREM', KEYS[2], name)
redis.call('HDEL', KEYS[3], name)
redis.call('HDEL', KEYS[5], name)
redis.call('HDEL', KEYS[6], name)
redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[3], name)
return 1
