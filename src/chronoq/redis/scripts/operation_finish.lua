-- operation_finish: end a bulk operation its runner holds (done, or failed with the
-- error), keeping its final counts in the record, which expires after a while.
-- KEYS[1] runnable       ZSET unfinished operation id -> lease expiry ms (0: unclaimed)
-- KEYS[2] op_prefix      operation HASH key prefix (+ id)
-- ARGV[1] operation id
-- ARGV[2] the runner's token
-- ARGV[3] 'done' or 'failed'
-- ARGV[4] error ('' for none)
-- ARGV[5] final counts as JSON {outcome: jobs}
-- ARGV[6] jobs processed
-- ARGV[7] how long the finished record is kept, ms
-- Returns 1, or 0: the runner no longer holds it (nothing written).
local op = KEYS[2] .. ARGV[1]
local state, keep, processed = ARGV[3], tonumber(ARGV[7]), tonumber(ARGV[6])
if state ~= 'done' and state ~= 'failed' then
  return redis.error_reply("operation_finish: state must be done or failed, got " .. state)
end
if not keep or keep < 1 or not processed then
  return redis.error_reply('operation_finish: bad keep or processed count')
end
local f = redis.call('HMGET', op, 'state', 'owner')
if f[1] ~= 'running' or f[2] ~= ARGV[2] then return 0 end
redis.call('HSET', op, 'state', state, 'error', ARGV[4], 'counts', ARGV[5],
  'processed', processed, 'updated', now_ms())
redis.call('HDEL', op, 'owner', 'lease')
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('PEXPIRE', op, keep)
return 1
