-- operation_renew: extend a runner's lease on the bulk operation it is running.
-- KEYS[1] runnable       ZSET unfinished operation id -> lease expiry ms (0: unclaimed)
-- KEYS[2] op_prefix      operation HASH key prefix (+ id)
-- ARGV[1] operation id
-- ARGV[2] the runner's token
-- ARGV[3] lease ms
-- Returns 1 (renewed), or 0: the runner no longer holds it (cancelled, finished,
-- gone, or claimed by another runner after its lease ran out).
local op = KEYS[2] .. ARGV[1]
local lease = tonumber(ARGV[3])
if not lease or lease < 1 then
  return redis.error_reply('operation_renew: lease must be >= 1 ms, got ' .. tostring(ARGV[3]))
end
local f = redis.call('HMGET', op, 'state', 'owner')
if f[1] ~= 'running' or f[2] ~= ARGV[2] then return 0 end
local now = now_ms()
redis.call('HSET', op, 'lease', now + lease)
redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[1])
return 1
