-- wf_due_claim: the workflows whose attention time has come, each leased to this
-- sweeper by raising its score (another sweeper skips it until the lease ends).
-- KEYS[1] workflows_due  ZSET workflow id -> attention ms (keys.py Keyspace.workflows_due)
-- ARGV[1] lease ms
-- ARGV[2] how many at most
-- Returns the workflow ids claimed.
local now = now_ms()
local lease = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if not lease or lease <= 0 or not limit or limit <= 0 then
  return redis.error_reply('wf_due_claim: lease and limit must be positive numbers')
end
local ids = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], now + lease, id)
end
return ids
