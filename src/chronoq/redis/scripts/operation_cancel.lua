-- operation_cancel: cancel a pending or running bulk operation. Its runner stops at
-- its next batch (the caller also marks each per-queue part cancelled, which the
-- batch script checks, so no job is touched once the cancel has returned).
-- KEYS[1] runnable       ZSET unfinished operation id -> lease expiry ms (0: unclaimed)
-- KEYS[2] op_prefix      operation HASH key prefix (+ id)
-- ARGV[1] operation id
-- ARGV[2] how long the finished record is kept, ms
-- Returns false (no such operation), or {its state now, its capture token ('' when
-- none), its queues JSON ('[]' when none)}: 'cancelled', or the final state it was
-- already in (then nothing is written).
local op = KEYS[2] .. ARGV[1]
local keep = tonumber(ARGV[2])
if not keep or keep < 1 then
  return redis.error_reply('operation_cancel: keep must be >= 1 ms, got ' .. tostring(ARGV[2]))
end
local f = redis.call('HMGET', op, 'state', 'set', 'queues')
if not f[1] then return false end
if f[1] == 'pending' or f[1] == 'running' then
  redis.call('HSET', op, 'state', 'cancelled', 'updated', now_ms())
  redis.call('HDEL', op, 'owner', 'lease')
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', op, keep)
  return {'cancelled', f[2] or '', f[3] or '[]'}
end
return {f[1], f[2] or '', f[3] or '[]'}
