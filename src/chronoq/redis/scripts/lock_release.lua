-- lock_release: compare-and-delete, then wake one waiter.
-- KEYS[1] holder  STRING: the holder's token
-- KEYS[2] wake    LIST waking one waiter
-- ARGV[1] the releaser's token
-- ARGV[2] expiry ms of the wake token
-- Returns 1 when released. Returns 0, deleting nothing, when ARGV[1] no longer
-- holds the lock (its lease expired, and perhaps another holder took it): a late
-- releaser can never delete someone else's lock.
-- The wake LIST holds at most one token; it expires so that a release nobody was
-- waiting for leaves no lasting trace (a stale token costs a waiter one retry).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('LLEN', KEYS[2]) == 0 then
  redis.call('RPUSH', KEYS[2], '1')
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
