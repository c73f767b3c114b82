-- lock_acquire: take a lock if it is free, and hand its holder the next fencing token.
-- KEYS[1] holder  STRING: the holder's random token; expires with the lease
-- KEYS[2] fence   fencing counter (never expires)
-- ARGV[1] the acquirer's random token
-- ARGV[2] lease ms
-- Returns {1, fence} when taken. Also when ARGV[1] holds it already (a request
-- resent after a lost reply): same fence, lease restarted. Otherwise {0, ms}: the
-- current holder's remaining lease (PTTL; -1 if the key has no expiry), the
-- longest a waiter needs to block before trying again.
-- Lease times are the server's (PX, PTTL): no client clock is involved.
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, redis.call('INCR', KEYS[2])}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, tonumber(redis.call('GET', KEYS[2]))}
end
return {0, redis.call('PTTL', KEYS[1])}
