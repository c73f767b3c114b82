-- clock: the server's time, read where a given key lives (on a Cluster, the node
-- owning KEYS[1]'s slot: the clock that scripts on those keys use), and whether a
-- hash field exists there. Pipelines on a Cluster cannot carry a bare TIME.
-- KEYS[1] a HASH whose slot picks the server (read only for ARGV[1])
-- ARGV[1] a field of KEYS[1] to test, or '' for none
-- Returns {seconds, microseconds, 1 if the field exists else 0}
local t = redis.call('TIME')
local exists = 0
if ARGV[1] ~= '' then exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) end
return {tonumber(t[1]), tonumber(t[2]), exists}
