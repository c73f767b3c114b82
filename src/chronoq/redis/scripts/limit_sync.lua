-- limit_sync: store a limit declared in code, unless the stored one already came
-- from this very definition (another worker synced it first) or from an earlier one
-- an operator has changed since. One step, so workers starting together write (and
-- bump the version, which resets every key's pacing) at most once between them.
-- KEYS[1] config  the limit's HASH (json, kind, n, per_ms, burst, gap_ms, ver, code)
-- ARGV[1] the code definition's fingerprint
-- ARGV[2] '1': write even if unchanged
-- ARGV[3..] field, value pairs of the config to write (code and ver excluded)
-- Returns the new version, or 0 when the stored limit was kept.
if #ARGV < 4 or #ARGV % 2 ~= 0 then
  return redis.error_reply('ERR limit_sync: expected a fingerprint, a flag and field/value pairs')
end
local stored = redis.call('HMGET', KEYS[1], 'ver', 'code')
if ARGV[2] ~= '1' and stored[1] and stored[2] == ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'code', ARGV[1], unpack(ARGV, 3))
return redis.call('HINCRBY', KEYS[1], 'ver', 1)
