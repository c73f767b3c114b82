-- operation_captured: record that a runner captured a bulk operation's frozen set
-- (its per-queue parts are written): from now on every runner works through those.
-- KEYS[1] runnable       ZSET unfinished operation id -> lease expiry ms (0: unclaimed)
-- KEYS[2] op_prefix      operation HASH key prefix (+ id)
-- ARGV[1] operation id
-- ARGV[2] the runner's token (its parts are named '<id>:<token>')
-- ARGV[3] jobs in the set
-- ARGV[4] JSON list of the queues with a part
-- Returns 1, or 0: the runner no longer holds it or another capture came first (its
-- parts are not used: the caller deletes them).
local op = KEYS[2] .. ARGV[1]
local total = tonumber(ARGV[3])
if not total or total < 0 or total ~= math.floor(total) then
  return redis.error_reply('operation_captured: bad total ' .. tostring(ARGV[3]))
end
local ok, queues = pcall(cjson.decode, ARGV[4])
if not ok or type(queues) ~= 'table' then
  return redis.error_reply('operation_captured: queues must be a JSON list')
end
local f = redis.call('HMGET', op, 'state', 'owner', 'set')
if f[1] ~= 'running' or f[2] ~= ARGV[2] or f[3] then return 0 end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('HSET', op, 'set', ARGV[2], 'total', total, 'queues', ARGV[4], 'updated', now_ms())
return 1
