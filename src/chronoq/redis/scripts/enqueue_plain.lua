-- enqueue_plain: create one job due now with no unique or idempotency key, no gate
-- and no account: the fast path of a single enqueue (enqueue.lua does everything,
-- batches included). Same outcome as enqueue.lua for such a job: handed straight to
-- an idle worker when one is registered, else queued in FIFO order.
-- KEYS[1] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[2] seq            FIFO counter of jobs naming no account
-- KEYS[3] wake           doorbell LIST
-- KEYS[4] job_prefix     job HASH key prefix (+ id)
-- KEYS[5] active         ZSET of leased ids; score = lease expiry ms
-- KEYS[6] idle           ZSET of idle workers; score = registration ms
-- KEYS[7] idle_leases    HASH worker id -> 'token|lease ms|slots'
-- KEYS[8] inbox_prefix   per-worker inbox LIST key prefix (+ worker id)
-- KEYS[9] events         STREAM of state changes (capped)
-- ARGV[1] job id
-- ARGV[2] task name
-- ARGV[3] args JSON
-- ARGV[4] priority, a whole number within -1000..1000
-- ARGV[5] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[6..] extra job hash fields as name, value pairs (options, max retries, ...);
--         not uniq, idem, gate or acct: those jobs go through enqueue.lua; not the
--         fields this script writes (WRITTEN_FIELDS in _lib.lua)
-- The job's FIFO number is one past seq: claim.lua keeps seq at least the queue's
-- virtual time (fair_seq in _lib.lua), so the fair HASH need not be read here.
-- Returns {id, status, created}: as enqueue.lua for one job ('running' when handed
-- off; created 0 with the stored status when the id exists: a resend).
local id, task, args = ARGV[1], ARGV[2], ARGV[3]
if id == '' or task == '' then return redis.error_reply('bad enqueue: no id or task name') end
local prio, why = check_priority('priority', ARGV[4])
if prio == nil then return redis.error_reply('bad enqueue: ' .. why) end
for i = 6, #ARGV, 2 do
  local name, value = ARGV[i], ARGV[i + 1]
  if value == nil or PLAIN_ONLY_FIELDS[name] then
    return redis.error_reply('bad enqueue: field ' .. tostring(name) .. ' needs enqueue.lua')
  end
  if WRITTEN_FIELDS[name] then
    return redis.error_reply('bad enqueue: field ' .. name .. ' is written by the enqueue')
  end
  local check = FIELD_CHECKS[name]
  if check then
    local checked, problem = check(name, value)
    if checked == nil then return redis.error_reply('bad enqueue: ' .. problem) end
  end
end

-- The next number is taken before anything is written (a failure leaves nothing):
-- INCR, or GET (checked) and, once the job is queued, SET where INCR is refused: a
-- producer set up by the ACL rules of chronoq 0.1 has no +incr (README: ACL).
local seq, seq_to_set = redis.pcall('INCR', KEYS[2]), false
if type(seq) == 'table' then
  seq = tonumber(redis.call('GET', KEYS[2]) or '0')
  if not seq then return redis.error_reply("bad enqueue: the queue's seq is not a number") end
  seq, seq_to_set = seq + 1, true
end
local job_key = KEYS[4] .. id
if redis.call('HSETNX', job_key, 'task', task) == 0 then
  return {id, redis.call('HGET', job_key, 'status') or 'expired', 0}  -- a resend
end
local now_text = now_ms_text()

-- Handed straight to an idle worker: the record is written once, already running (as
-- enqueue.lua's write and hand_off's start_run leave it, without the second HSET and
-- the read back of what this script holds: the idle start waits on this script).
if redis.call('ZCARD', KEYS[6]) > 0 then
  local now = tonumber(now_text)
  local I = {idle = KEYS[6], leases = KEYS[7], inbox = KEYS[8], active = KEYS[5]}
  local worker = take_idle_worker(I, now)
  if worker then
    local token, wid = worker[2], worker[1]
    if prio ~= 0 then  -- the extra fields (ARGV[6..], checked above) unpacked, not copied
      redis.call('HSET', job_key, 'args', args, 'status', 'running', 'enq', now_text,
        'att', '1', 'st', now_text, 'lease', token, 'wid', wid, 'prio', int_text(prio),
        unpack(ARGV, 6))
    else
      redis.call('HSET', job_key, 'args', args, 'status', 'running', 'enq', now_text,
        'att', '1', 'st', now_text, 'lease', token, 'wid', wid, unpack(ARGV, 6))
    end
    redis.call('ZADD', KEYS[5], int_text(now + worker[3]), id)
    -- The entry carries the entry fields among ARGV[6..] as sent (each checked
    -- above); gathered here only, as the queued path has no use for them.
    local f = {enq = now_text}
    for i = 6, #ARGV, 2 do
      if is_entry_field(ARGV[i]) then f[ARGV[i]] = ARGV[i + 1] end
    end
    push_hand_off(I, worker, id, task, args, f, now_text)
    event_now(KEYS[9], ARGV[5], id, 'running')
    return {id, 'running', 1}
  end
  wake(KEYS[3])  -- registered workers went stale: ring for whoever waits
end
if prio ~= 0 then
  redis.call('HSET', job_key, 'args', args, 'status', 'queued', 'enq', now_text,
    'prio', int_text(prio), unpack(ARGV, 6))
else
  redis.call('HSET', job_key, 'args', args, 'status', 'queued', 'enq', now_text, unpack(ARGV, 6))
end
if seq_to_set then redis.call('SET', KEYS[2], int_text(seq)) end
redis.call('ZADD', KEYS[1], int_text(ready_score(prio, seq)), id)
event_now(KEYS[9], ARGV[5], id, 'queued')
return {id, 'queued', 1}
