-- lock_renew: extend a lease, if it is still the renewer's.
-- KEYS[1] holder  STRING: the holder's token
-- ARGV[1] the renewer's token
-- ARGV[2] lease ms (from now, server clock)
-- Returns 1 when extended; 0 when ARGV[1] no longer holds the lock (the lease
-- expired or the key was deleted or overwritten): the holder has lost it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
