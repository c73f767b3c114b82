-- claim: lease up to N ready jobs to one worker, counting each attempt.
-- First moves due scheduled jobs to ready, and expires jobs past their deadline.
-- A job naming gates (lock keys, concurrency keys) starts only with a place in each;
-- otherwise its policy applies: park it (no attempt spent), skip it, or dead-letter it.
-- The state changes reach the event stream in order, consecutive ones of one status
-- sharing an entry (events_flush); the active entries of jobs in no gate are written
-- once for the batch (batch_flush).
-- KEYS[1]  ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[2]  scheduled      ZSET of ids waiting for a time; score = due ms
-- KEYS[3]  active         ZSET of leased ids; score = lease expiry ms
-- KEYS[4]  seq            FIFO counter of jobs naming no account
-- KEYS[5]  wake           doorbell LIST
-- KEYS[6]  job_prefix     job HASH key prefix (+ id)
-- KEYS[7]  done           ZSET of succeeded ids (done:<status>: finished otherwise)
-- KEYS[8]  unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[9]  stats          HASH of lifetime counters
-- KEYS[10] idle           ZSET of idle workers; score = registration ms
-- KEYS[11] idle_leases    HASH worker id -> 'token|lease ms|slots'
-- KEYS[12] gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[13] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[14] blocked        ZSET of parked ids; score = parked ms
-- KEYS[15] fair           fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[16] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[17] inbox_prefix   per-worker inbox LIST key prefix (+ worker id)
-- KEYS[18] fence_prefix   lock keys' fencing counter prefix (+ gate key)
-- KEYS[19] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[20] events         STREAM of state changes (capped)
-- KEYS[21] paused         HASH present while the queue is paused (queue_pause.lua)
-- ARGV[1] max jobs
-- ARGV[2] lease ms
-- ARGV[3] lease token
-- ARGV[4] worker id
-- ARGV[5] retention ms of finished records
-- ARGV[6] '1': when the queue runs dry before ARGV[1] jobs, register the worker as
--   idle (enqueue then hands new jobs straight to it, leased with ARGV[3])
-- ARGV[7] the worker's free slots before this claim: the registration lets enqueue
--   hand over that many jobs, less those claimed now and those still in its inbox
-- ARGV[8] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[9] ms ahead (optional, default 0): with places left, jobs falling due within
--   that long are leased now, their started time set to their due time (the worker
--   holds each until then): the claim's round trip is made before a delayed job's
--   due time instead of after it. Only a plain job is taken early (valid fields, no
--   gate, not cancelled, no deadline before its due time); any other waits for its
--   due time and the usual path.
-- Returns {now_ms (as text, with its µs fraction: a worker holding a job taken
--          ahead counts from it), ms until the next scheduled job (-1: none), slots registered (0:
--          not registered), {id, task, attempts} of each job found past its
--          deadline (expired now), then per claimed job the 15 values of its
--          run_entry (_lib.lua): id, task, args, attempts (after this claim),
--          maxr|nil, opts|nil, limit reservations JSON|nil (set when a limit
--          deferred the job), enqueued ms|nil, run-at ms|nil, started ms (a job
--          taken ahead of its due time: that due time, later than now_ms),
--          schedule|nil, schedule due ms|nil, account|nil, lock key fence|nil,
--          retry base|nil (attempts made before it was last requeued from the DLQ)}
local exact_now = now_ms_exact()
local now = math.floor(exact_now)
-- A paused queue hands out nothing and registers no idle worker (queue_pause.lua
-- dropped the registrations; queue_resume.lua rings the doorbell).
if redis.call('EXISTS', KEYS[21]) == 1 then return {now, -1, 0, {}} end
local G = {gate = KEYS[12], parked = KEYS[13], blocked = KEYS[14], active = KEYS[3],
  ready = KEYS[1], wake = KEYS[5], job = KEYS[6]}
local D = {dead = KEYS[16], stats = KEYS[9], unique = KEYS[8], ix = KEYS[19]}
local retention = tonumber(ARGV[5])
local E = events_of(KEYS[20], ARGV[8], true)  -- sent at the end (events_flush)
local missing = 0  -- ids whose record is gone entirely: dropped, counted
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  local why = push_ready(KEYS[1], KEYS[4], KEYS[15], KEYS[6] .. id, id)
  if why == RECORD_GONE then missing = missing + 1
  elseif why then dead_letter(D, KEYS[6] .. id, id, now, why) end
  if why ~= RECORD_GONE then event_append(E, id, why and 'dead' or 'queued') end
end

-- A full gate: park, skip or dead-letter the job, as its gate says.
local function refuse(job_key, id, gate, seq)
  if gate[3] == 'wait' then
    park(G, job_key, id, gate[1], now, seq)
    return event_append(E, id, 'blocked')
  end
  local why = "lock key '" .. gate[1] .. "' is held by another running job"
  if gate[2] > 1 then
    why = "concurrency key '" .. gate[1] .. "' already has " .. gate[2] .. ' running jobs'
  end
  if gate[3] == 'skip' then
    release_unique(KEYS[8], job_key, id)
    redis.call('HSET', job_key, 'err', why, 'tb', '')
    finish(job_key, KEYS[7], id, 'skipped', now, retention, KEYS[19])
    redis.call('HINCRBY', KEYS[9], 'skipped', 1)
    event_append(E, id, 'skipped')
  else
    dead_letter(D, job_key, id, now, why)
    event_append(E, id, 'dead')
  end
end

-- Every field the claim or the worker relies on is checked before the job is touched.
local CLAIM_FIELDS = {'task', 'args', 'att', 'maxr', 'opts', 'dl', 'gate', 'acct', 'lres',
  'enq', 'run', 'sched', 'sdue', 'rbase', 'cxl'}
local CLAIM_WANTED = name_set(CLAIM_FIELDS)

local want, lease_until = tonumber(ARGV[1]), now + tonumber(ARGV[2])
local now_text, until_text = int_text(now), int_text(lease_until)
local B = batch_new()  -- the active entries of jobs in no gate, sent once at the end
local expired = {}
local out = {string.format('%.3f', exact_now), -1, 0, expired}
local claimed = 0
local vt = tonumber(redis.call('HGET', KEYS[15], 'vt') or '0')
local latest = vt
local latest_acct = 0  -- the highest number of a popped job naming an account
while claimed < want do
  local popped = redis.call('ZPOPMIN', KEYS[1], want - claimed)
  if #popped == 0 then break end
  for j = 1, #popped, 2 do
    local id, seq = popped[j], tonumber(popped[j + 1]) % SEQ_SPAN
    if seq > latest then latest = seq end
    local job_key = KEYS[6] .. id
    local f, why = read_job_all(job_key, CLAIM_FIELDS, CLAIM_WANTED)
    if f.acct and seq > latest_acct then latest_acct = seq end
    if f.acct and tonumber(redis.call('HGET', KEYS[15], 'a:' .. f.acct) or '0') <= seq then
      redis.call('HDEL', KEYS[15], 'a:' .. f.acct)  -- its last waiting job: forget the account
    end
    if not f.task and redis.call('EXISTS', job_key) == 0 then
      missing = missing + 1
    else
      why = why or (not f.task and missing_field('task')) or (not f.args and missing_field('args'))
      if why then
        dead_letter(D, job_key, id, now, why)
        event_append(E, id, 'dead')
      elseif f.cxl then  -- cancelled while running, then handed back or recovered
        release_unique(KEYS[8], job_key, id)
        redis.call('HSET', job_key, 'err', 'cancelled while it ran; not run again')
        redis.call('HDEL', job_key, 'cxl')
        finish(job_key, KEYS[7], id, 'cancelled', now, retention, KEYS[19])
        redis.call('HINCRBY', KEYS[9], 'cancelled', 1)
        event_append(E, id, 'cancelled')
      elseif f.dl and f.dl < now then
        release_unique(KEYS[8], job_key, id)
        redis.call('HSET', job_key, 'err', 'deadline passed before the job could start')
        finish(job_key, KEYS[7], id, 'expired', now, retention, KEYS[19])
        redis.call('HINCRBY', KEYS[9], 'expired', 1)
        event_append(E, id, 'expired')
        local n = #expired
        expired[n + 1], expired[n + 2], expired[n + 3] = id, f.task, f.att or 0
      else
        local full = nil
        if f.gate then full = gate_enter(G, f.gate, id) end
        if full then
          refuse(job_key, id, full, seq)
        else
          local att = (f.att or 0) + 1
          start_run(KEYS[3], job_key, id, att, now_text, until_text, ARGV[3], ARGV[4],
            not f.gate and B or nil)
          if f.lres then redis.call('HDEL', job_key, 'lres') end  -- bookings are used once
          claimed = claimed + 1
          event_append(E, id, 'running')
          run_entry_into(out, id, f.task, f.args, att, f, now, gate_fence(KEYS[18], f.gate))
        end
      end
    end
  end
end
local ahead = tonumber(ARGV[9]) or 0
if ahead > 0 and claimed < want then
  local soon = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now_text, int_text(now + ahead),
    'WITHSCORES', 'LIMIT', 0, want - claimed)
  for j = 1, #soon, 2 do
    local id, due = soon[j], tonumber(soon[j + 1])
    local job_key = KEYS[6] .. id
    local f, why = read_job_all(job_key, CLAIM_FIELDS, CLAIM_WANTED)
    if f.task and f.args and not why and not f.gate and not f.cxl and not (f.dl and f.dl < due)
    then
      redis.call('ZREM', KEYS[2], id)
      local att = (f.att or 0) + 1
      start_run(KEYS[3], job_key, id, att, int_text(due), until_text, ARGV[3], ARGV[4], B)
      if f.lres then redis.call('HDEL', job_key, 'lres') end
      claimed = claimed + 1
      event_append(E, id, 'queued')  -- as if promoted at its due time, then claimed
      event_append(E, id, 'running')
      run_entry_into(out, id, f.task, f.args, att, f, due, false)
    end
  end
end
batch_flush(B)
events_flush(E)
if missing > 0 then redis.call('HINCRBY', KEYS[9], 'missing', missing) end
if latest > vt then
  redis.call('HSET', KEYS[15], 'vt', latest)
  -- seq stays at least vt (fair_seq): a job naming no account took its number from
  -- seq, but an account's number can run past it.
  if latest_acct > (tonumber(redis.call('GET', KEYS[4])) or 0) then
    redis.call('SET', KEYS[4], int_text(latest_acct))
  end
end
if redis.call('ZCARD', KEYS[1]) > 0 then wake(KEYS[5]) end
local slots = 0
if claimed < want and ARGV[6] == '1' then
  slots = (tonumber(ARGV[7]) or 1) - claimed - redis.call('LLEN', KEYS[17] .. ARGV[4])
end
if slots > 0 then
  redis.call('ZADD', KEYS[10], now, ARGV[4])
  redis.call('HSET', KEYS[11], ARGV[4], ARGV[3] .. '|' .. ARGV[2] .. '|' .. slots)
  out[3] = slots
  local stale = redis.call('ZRANGEBYSCORE', KEYS[10], '-inf', now - IDLE_STALE_MS, 'LIMIT', 0, 10)
  for _, wid in ipairs(stale) do
    redis.call('ZREM', KEYS[10], wid)
    redis.call('HDEL', KEYS[11], wid)
  end
else
  redis.call('ZREM', KEYS[10], ARGV[4])
  redis.call('HDEL', KEYS[11], ARGV[4])
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #nxt > 0 then out[2] = math.max(0, tonumber(nxt[2]) - now) end
return out
