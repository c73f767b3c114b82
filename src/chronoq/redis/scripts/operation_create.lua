-- operation_create: store a new bulk operation (pending, for a runner to claim), or,
-- for an idempotency key already used, the operation it made.
-- KEYS[1] index          ZSET operation id -> created ms
-- KEYS[2] runnable       ZSET unfinished operation id -> lease expiry ms (0: unclaimed)
-- KEYS[3] wake           doorbell LIST of idle runners
-- KEYS[4] op_prefix      operation HASH key prefix (+ id)
-- KEYS[5] idem_prefix    idempotency STRING key prefix (+ key) -> operation id
-- ARGV[1] the new operation's id
-- ARGV[2] idempotency key ('' for none)
-- ARGV[3] fingerprint of the request (a reused key must come with the same one)
-- ARGV[4] how long an idempotency key is remembered, ms
-- ARGV[5] kind ('requeue', 'purge' or 'resolve')
-- ARGV[6] the request as JSON (filter, edits, actor, dry run, filter text)
-- Returns {operation id, 'created' | 'existing' | 'conflict', its created ms}:
-- 'existing' and 'conflict' name the operation the key made ('conflict': with
-- another request), and nothing is written.
local id, key, fp = ARGV[1], ARGV[2], ARGV[3]
local ttl = tonumber(ARGV[4])
if not ttl or ttl < 1 then
  return redis.error_reply('operation_create: idempotency ttl must be >= 1 ms, got ' .. ARGV[4])
end
if key ~= '' then
  local known = redis.call('GET', KEYS[5] .. key)
  if known then
    local f = redis.call('HMGET', KEYS[4] .. known, 'fp', 'created')
    if f[1] then
      if f[1] == fp then return {known, 'existing', tonumber(f[2]) or 0} end
      return {known, 'conflict', tonumber(f[2]) or 0}
    end
  end
end
local op = KEYS[4] .. id
if redis.call('EXISTS', op) == 1 then
  return redis.error_reply('operation_create: operation ' .. id .. ' exists')
end
local now = now_ms()
redis.call('HSET', op, 'kind', ARGV[5], 'spec', ARGV[6], 'fp', fp, 'state', 'pending',
  'created', now, 'updated', now, 'idem', key, 'claims', 0)
redis.call('ZADD', KEYS[1], now, id)
redis.call('ZADD', KEYS[2], 0, id)
if key ~= '' then redis.call('SET', KEYS[5] .. key, id, 'PX', ttl) end
wake(KEYS[3])
return {id, 'created', now}
