-- release: hand leased jobs back to their queue (graceful shutdown).
-- The attempt is not counted and the job goes to the front of its priority.
-- KEYS[1] active         ZSET of leased ids; score = lease expiry ms
-- KEYS[2] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[3] wake           doorbell LIST
-- KEYS[4] job_prefix     job HASH key prefix (+ id)
-- KEYS[5] gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[6] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[7] blocked        ZSET of parked ids; score = parked ms
-- KEYS[8] events         STREAM of state changes (capped)
-- ARGV[1] number of jobs
-- ARGV[2] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[3..] per job, 2 values: id, lease token
-- Returns the number of jobs handed back. Each hand-back is appended to the job's
-- history ('hist', outcome 'shutdown').
local G = {gate = KEYS[5], parked = KEYS[6], blocked = KEYS[7], active = KEYS[1],
  ready = KEYS[2], wake = KEYS[3], job = KEYS[4]}
local E = events_of(KEYS[8], ARGV[2])
local BACK_FIELDS = {'att', 'prio', 'gate', 'st', 'wid', 'hist'}  -- HAND_BACK_FIELDS, history
local released = 0
for i = 3, 2 + 2 * tonumber(ARGV[1]), 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local job_key = KEYS[4] .. id
  if holds_lease(redis.call('HGET', job_key, 'lease'), token) then
    -- A job whose record is bad stays leased: recover dead-letters it with the reason.
    local f, why = read_job(job_key, BACK_FIELDS)
    if not why then
      history_append(job_key, f, attempt_entry(f, 'shutdown', now_ms()))
      hand_back(KEYS[1], KEYS[2], job_key, id, f)
      event_append(E, id, 'queued')
      gate_leave(G, f.gate, id)
      released = released + 1
    end
  end
end
if released > 0 then wake(KEYS[3]) end
return released
