-- lock_force_release: an operator takes a lock from its holder (a hung or
-- partitioned process): the holder key is deleted whoever holds it, and one waiter
-- is woken. The fence is untouched: the next acquire INCRs it past the former
-- holder's, and the former holder's next renewal finds its token gone (LockLost).
-- KEYS[1] holder  STRING: the holder's token
-- KEYS[2] fence   fencing counter (never expires)
-- KEYS[3] wake    LIST waking one waiter
-- ARGV[1] expiry ms of the wake token
-- ARGV[2] the fence expected ('' any): with one, a lock acquired again since the
--   operator looked (a higher fence) is left alone
-- Returns {1, fence of the released holder} when a holder was removed, {0, fence}
-- when the lock was free or its fence was not ARGV[2]; fence 0: never taken.
local holder = redis.call('GET', KEYS[1])
local fence = tonumber(redis.call('GET', KEYS[2]) or '0')
if not holder or (ARGV[2] ~= '' and tonumber(ARGV[2]) ~= fence) then return {0, fence} end
redis.call('DEL', KEYS[1])
if redis.call('LLEN', KEYS[3]) == 0 then
  redis.call('RPUSH', KEYS[3], '1')
end
redis.call('PEXPIRE', KEYS[3], ARGV[1])
return {1, fence}
