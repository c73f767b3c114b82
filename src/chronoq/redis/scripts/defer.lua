-- defer: put leased jobs back to wait until a time, without counting the attempt:
-- a rate limit or quota said "not yet", or the task raised RateLimited.
-- KEYS[1] active         ZSET of leased ids; score = lease expiry ms
-- KEYS[2] scheduled      ZSET of ids waiting for a time; score = due ms
-- KEYS[3] job_prefix     job HASH key prefix (+ id)
-- KEYS[4] stats          HASH of lifetime counters
-- KEYS[5] wake           doorbell LIST
-- KEYS[6] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[7] gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[8] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[9] blocked        ZSET of parked ids; score = parked ms
-- KEYS[10] events        STREAM of state changes (capped)
-- ARGV[1] number of jobs
-- ARGV[2] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[3..] per job, 4 values: id, lease token, run-at epoch ms,
--   reservations JSON ({limit name: booked ms}; '' for none)
-- Returns the number of jobs deferred (one whose lease is no longer theirs is left).
-- Each deferral is appended to the job's history ('hist', outcome 'deferred').
local G = {gate = KEYS[7], parked = KEYS[8], blocked = KEYS[9], active = KEYS[1],
  ready = KEYS[6], wake = KEYS[5], job = KEYS[3]}
local E = events_of(KEYS[10], ARGV[2])
local DEFER_FIELDS = {'att', 'gate', 'st', 'wid', 'hist'}
local now = now_ms()
local deferred = 0
for i = 3, 2 + 4 * tonumber(ARGV[1]), 4 do
  local id, token, at, res = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local job_key = KEYS[3] .. id
  -- A job whose record is bad stays leased: recover dead-letters it with the reason.
  local f, why = nil, nil
  if holds_lease(redis.call('HGET', job_key, 'lease'), token) then f, why = read_job(job_key, DEFER_FIELDS) end
  if f and not why then
    history_append(job_key, f, attempt_entry(f, 'deferred', now))
    redis.call('ZREM', KEYS[1], id)
    gate_leave(G, f.gate, id)
    redis.call('HINCRBY', job_key, 'att', -1)
    redis.call('HDEL', job_key, 'lease', 'st', 'wid')
    redis.call('HSET', job_key, 'status', 'scheduled', 'run', at)
    if res ~= '' then redis.call('HSET', job_key, 'lres', res) else redis.call('HDEL', job_key, 'lres') end
    redis.call('ZADD', KEYS[2], at, id)
    event_append(E, id, 'scheduled')
    deferred = deferred + 1
  end
end
if deferred > 0 then
  redis.call('HINCRBY', KEYS[4], 'throttled', deferred)
  wake(KEYS[5])  -- idle workers re-arm their timers for the new scheduled time
end
return deferred
