-- clock: the server's time, read on the server that holds the schedules (on a Cluster,
-- the node owning their slot: the clock the schedule scripts use), and whether a
-- schedule exists, in one round trip. Cluster pipelines cannot carry a bare TIME.
-- KEYS[1] defs  the schedules' HASH: its slot picks the server; read only for ARGV[1]
-- ARGV[1] a field of that hash to test, or '' for none
-- Returns {seconds, microseconds, 1 if the field exists else 0}
local t = redis.call('TIME')
local exists = 0
if ARGV[1] ~= '' then exists = redis.call('HEXISTS', KEYS[1], ARGV[1]) end
return {tonumber(t[1]), tonumber(t[2]), exists}
