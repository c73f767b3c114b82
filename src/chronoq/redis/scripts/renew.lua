-- renew: extend the leases a worker holds.
-- KEYS[1] active      ZSET of leased ids; score = lease expiry ms
-- KEYS[2] job_prefix  job HASH key prefix (+ id)
-- ARGV[1] lease ms
-- ARGV[2] number of jobs
-- ARGV[3..] per job, 2 values: id, lease token
-- Returns {lost, cancelling}: the ids whose lease was lost (expired and reclaimed, or
-- finished elsewhere: their runs must stop, since another worker may now own them),
-- and the ids a cancel was asked for (their 'cxl' field is set).
local now = now_ms()
local lease_until = now + tonumber(ARGV[1])
local lost, cancelling = {}, {}
for i = 3, 2 + 2 * tonumber(ARGV[2]), 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', KEYS[2] .. id, 'lease', 'cxl')
  if holds_lease(f[1], token) and redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', lease_until, id)
    if f[2] then cancelling[#cancelling + 1] = id end
  else
    lost[#lost + 1] = id
  end
end
return {lost, cancelling}
