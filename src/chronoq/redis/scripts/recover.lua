-- recover: requeue jobs whose lease expired (their worker died or hung), and wake
-- parked jobs whose gates have room but were never woken (a safety net: normally
-- the holder leaving its gate wakes them at once).
-- The lost run counts as an attempt (it was counted at claim); a job out of
-- attempts goes to the dead-letter queue with reason 'worker lost'.
-- KEYS[1]  active         ZSET of leased ids; score = lease expiry ms
-- KEYS[2]  ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[3]  seq            FIFO counter of jobs naming no account
-- KEYS[4]  dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[5]  wake           doorbell LIST
-- KEYS[6]  job_prefix     job HASH key prefix (+ id)
-- KEYS[7]  unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[8]  stats          HASH of lifetime counters
-- KEYS[9]  gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[10] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[11] blocked        ZSET of parked ids; score = parked ms
-- KEYS[12] fair           fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[13] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[14] events         STREAM of state changes (capped)
-- ARGV[1] default max retries (for jobs that store none)
-- ARGV[2] max jobs per call
-- ARGV[3] event stream cap (MAXLEN ~; 0: no events)
-- A requeued job's lost attempt is appended to its history ('hist', 'worker lost').
-- Returns {requeued count, dead-lettered count, unparked count}.
local now = now_ms()
local G = {gate = KEYS[9], parked = KEYS[10], blocked = KEYS[11], active = KEYS[1],
  ready = KEYS[2], wake = KEYS[5], job = KEYS[6]}
local D = {dead = KEYS[4], stats = KEYS[8], unique = KEYS[7], ix = KEYS[13]}
local SWEEP_AFTER_MS = 5000
local E = events_of(KEYS[14], ARGV[3])
local RECOVER_FIELDS = {'status', 'att', 'maxr', 'gate', 'prio', 'rbase', 'st', 'wid', 'hist'}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local requeued, dead, missing = 0, 0, 0
local reason = 'worker lost: lease expired while the job was running'
for _, id in ipairs(expired) do
  local job_key = KEYS[6] .. id
  redis.call('ZREM', KEYS[1], id)
  local f, why = read_job(job_key, RECOVER_FIELDS)
  if record_gone(f, job_key) then
    missing = missing + 1
  elseif why then
    if type(f.gate) == 'table' then gate_leave(G, f.gate, id) end
    dead_letter(D, job_key, id, now, why)
    event_append(E, id, 'dead')
    dead = dead + 1
  else
    gate_leave(G, f.gate, id)
    redis.call('HDEL', job_key, 'lease')
    -- Attempts since its last requeue from the DLQ count against its retries.
    if (f.att or 0) - (f.rbase or 0) > (f.maxr or tonumber(ARGV[1])) then
      dead_letter(D, job_key, id, now, reason)
      event_append(E, id, 'dead')
      dead = dead + 1
    else
      history_append(job_key, f, attempt_entry(f, 'worker lost', now, reason))
      redis.call('HSET', job_key, 'err', reason, 'tb', '')
      push_ready(KEYS[2], KEYS[3], KEYS[12], job_key, id)  -- its fields are checked above
      event_append(E, id, 'queued')
      requeued = requeued + 1
    end
  end
end
if requeued + dead > 0 then redis.call('HINCRBY', KEYS[8], 'lost', requeued + dead) end
if requeued > 0 then wake(KEYS[5]) end
if missing > 0 then redis.call('HINCRBY', KEYS[8], 'missing', missing) end

-- Whether every gate of a parked job has room now.
local function has_room(gates)
  for _, g in ipairs(gates) do
    if gate_holders(G, g[1]) >= g[2] then return false end
  end
  return true
end

-- A parked job leaves the blocked set and the parked lists of its (checked) gates.
local function unblock(id, gates)
  redis.call('ZREM', KEYS[11], id)
  if type(gates) == 'table' then
    for _, g in ipairs(gates) do redis.call('LREM', KEYS[10] .. g[1], 1, id) end
  end
end

local PARKED_CHECK = {'status', 'gate', 'prio', 'pseq'}
local unparked = 0
local stuck = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now - SWEEP_AFTER_MS, 'LIMIT', 0, 50)
for _, id in ipairs(stuck) do
  local job_key = KEYS[6] .. id
  local f, why = read_job(job_key, PARKED_CHECK)
  if record_gone(f, job_key) then
    redis.call('ZREM', KEYS[11], id)
  elseif why then
    unblock(id, f.gate)
    dead_letter(D, job_key, id, now, why)
    event_append(E, id, 'dead')
    dead = dead + 1
  elseif has_room(f.gate or {}) then
    unblock(id, f.gate)
    push_parked(G, job_key, id)  -- its fields are checked above
    event_append(E, id, 'queued')
    unparked = unparked + 1
  end
end
if unparked > 0 then wake(KEYS[5]) end
return {requeued, dead, unparked}
