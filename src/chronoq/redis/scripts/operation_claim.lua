-- operation_claim: lease an unfinished bulk operation to a runner: one never claimed,
-- or one whose runner's lease ran out (it was killed, or lost Redis for that long).
-- KEYS[1] runnable       ZSET unfinished operation id -> lease expiry ms (0: unclaimed)
-- KEYS[2] op_prefix      operation HASH key prefix (+ id)
-- ARGV[1] the runner's token (new for each claim)
-- ARGV[2] lease ms
-- ARGV[3] an operation id to claim ('' for the first whose lease ran out)
-- Returns false (none to claim), or {operation id, its capture token ('' when its
-- set is not captured yet), claims so far including this one}. Entries of
-- operations gone or finished are dropped from the runnable set on the way.
local token, lease = ARGV[1], tonumber(ARGV[2])
if token == '' or not lease or lease < 1 then
  return redis.error_reply('operation_claim: needs a token and a lease >= 1 ms')
end
local now = now_ms()

local function take(id)
  local op = KEYS[2] .. id
  local f = redis.call('HMGET', op, 'state', 'set')
  if f[1] ~= 'pending' and f[1] ~= 'running' then
    redis.call('ZREM', KEYS[1], id)  -- gone (expired) or finished
    return nil
  end
  local claims = redis.call('HINCRBY', op, 'claims', 1)
  redis.call('HSET', op, 'state', 'running', 'owner', token, 'lease', now + lease, 'updated', now)
  redis.call('ZADD', KEYS[1], now + lease, id)
  return {id, f[2] or '', claims}
end

if ARGV[3] ~= '' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[3])
  if not score or tonumber(score) > now then return false end
  return take(ARGV[3]) or false
end
for _ = 1, 10 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 10)
  if #ids == 0 then return false end
  for _, id in ipairs(ids) do
    local claimed = take(id)
    if claimed then return claimed end
  end
end
return false
