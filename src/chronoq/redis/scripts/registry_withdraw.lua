-- registry_withdraw: a publisher that stops leaves the registry (its definitions stay).
-- KEYS[1] publishers  HASH publisher id -> publisher JSON
-- KEYS[2] alive       ZSET publisher id -> expiry ms
-- ARGV[1] publisher id
-- Returns 1 if it was registered, 0 if not.
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
