-- enqueue: create one or more jobs in one queue.
-- KEYS[1]  ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[2]  scheduled      ZSET of ids waiting for a time; score = due ms
-- KEYS[3]  seq            FIFO counter of jobs naming no account
-- KEYS[4]  wake           doorbell LIST
-- KEYS[5]  job_prefix     job HASH key prefix (+ id)
-- KEYS[6]  unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[7]  active         ZSET of leased ids; score = lease expiry ms
-- KEYS[8]  idle           ZSET of idle workers; score = registration ms
-- KEYS[9]  idle_leases    HASH worker id -> 'token|lease ms|slots'
-- KEYS[10] inbox_prefix   per-worker inbox LIST key prefix (+ worker id)
-- KEYS[11] fair           fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[12] events         STREAM of state changes (capped)
-- ARGV[1] JSON array of jobs, each an array:
--   [id, when, priority, unique key, task, args JSON, [field, value, ...]
--    (, [idempotency key, ttl ms])]
--   when: '' now | '+<ms>' after a delay | '@<ms>' at an epoch instant;
--   unique key '' for none; the 7th element lists extra job hash fields
--   (options, deadline, ...). One JSON argument keeps bulk packing cheap.
-- ARGV[2] event stream cap (MAXLEN ~; 0: no events)
-- A unique key dedupes while its job waits or runs; an idempotency key dedupes
-- for its TTL whatever became of the job (scheduled runs, "once per recipient").
-- Both are stored under the unique key prefix (idempotency keys as 'idem:<key>').
-- A job due in the future is scheduled. A job due now goes straight to an idle
-- worker when one is registered (leased to it, attempt counted, its entry pushed
-- to the worker's inbox: one hop from enqueue to start); otherwise it is queued.
-- Jobs with gates are never handed off: the claim checks their gates. Queued jobs
-- get fair FIFO numbers (see fair_seq in _lib.lua).
-- Consecutive jobs of one status share an event stream entry (events_flush).
-- Returns a flat array, per job: id (the existing job's id when the unique key is
-- held by a live job, or the idempotency key by any), status ('expired' when that
-- job's record is gone), created (1 new / 0 deduplicated; also 0 for an id that
-- exists already, so a client may resend a batch whose reply it lost).
local exact_now = now_ms_exact()
local now = math.floor(exact_now)
local jobs = cjson.decode(ARGV[1])
local E = events_of(KEYS[12], ARGV[2], true)  -- sent at the end (events_flush)
local now_text = int_text(now)

-- Every entry is checked before anything is written: a bad one fails the whole call
-- with its reason, and no job of the batch is stored.
local type, floor, match = type, math.floor, string.match
local function entry_problem(job)
  if type(job) ~= 'table' then return 'is not a list' end
  if type(job[1]) ~= 'string' or job[1] == '' then return 'has no id' end
  local when = job[2]
  if type(when) ~= 'string' or (when ~= '' and not match(when, '^[+@]%-?%d+$')) then
    return "has a bad due time (expected '', '+<ms>' or '@<ms>')"
  end
  if type(job[3]) ~= 'number' or job[3] ~= floor(job[3]) or job[3] < -1000
    or job[3] > 1000 then
    return 'has a priority that is not a whole number within -1000..1000'
  end
  if type(job[4]) ~= 'string' then return 'has a unique key that is not text' end
  if type(job[5]) ~= 'string' or job[5] == '' then return 'has no task name' end
  if type(job[6]) ~= 'string' then return 'has arguments that are not JSON text' end
  local extra = job[7]
  if type(extra) ~= 'table' or #extra % 2 ~= 0 then return 'has no field/value list' end
  for i = 1, #extra, 2 do
    local name, value = extra[i], extra[i + 1]
    if type(name) ~= 'string' or type(value) ~= 'string' then return 'has a field that is not text' end
    local check = FIELD_CHECKS[name]
    if check then
      local checked, why = check(name, value)
      if checked == nil then return why end
    end
  end
  local idem = job[8]
  if idem ~= nil and (type(idem) ~= 'table' or type(idem[1]) ~= 'string'
    or type(idem[2]) ~= 'number' or idem[2] < 1) then
    return 'has a bad idempotency key entry'
  end
  return nil
end

for i, job in ipairs(jobs) do
  local why = entry_problem(job)
  if why then return redis.error_reply('bad enqueue: job entry ' .. i .. ' ' .. why) end
end

local out = {}
local ring = false
local vt = tonumber(redis.call('HGET', KEYS[11], 'vt') or '0')
local anon_start = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), vt)
local seq = anon_start
local acct_last = {}  -- account -> its last FIFO number, written back once

-- The FIFO number of a queued job: its account's turn (fair_seq, batched).
local function next_number(acct)
  if not acct then
    seq = seq + 1
    return seq
  end
  local last = acct_last[acct]
  if not last then last = tonumber(redis.call('HGET', KEYS[11], 'a:' .. acct) or '0') end
  last = math.max(last, vt) + 1
  acct_last[acct] = last
  return last
end

-- The account and whether the job has gates, from its extra hash fields.
local function traits(extra)
  local acct, gated = nil, false
  for i = 1, #extra, 2 do
    if extra[i] == 'acct' then acct = extra[i + 1] elseif extra[i] == 'gate' then gated = true end
  end
  return acct, gated
end

local function due_of(when)
  if when == '' then return now end
  local n = tonumber(string.sub(when, 2))
  if string.sub(when, 1, 1) == '+' then  -- the nearest ms; no delay: ready now
    return n > 0 and math.floor(exact_now + n + 0.5) or now
  end
  return n
end

local function live_holder(ukey)
  local holder = redis.call('GET', KEYS[6] .. ukey)
  if not holder then return false end
  local st = redis.call('HGET', KEYS[5] .. holder, 'status')
  if st == 'queued' or st == 'scheduled' or st == 'running' or st == 'retrying' then
    return holder, st
  end
  return false
end

local I = {idle = KEYS[8], leases = KEYS[9], inbox = KEYS[10], active = KEYS[7]}

local function idempotent_holder(idem)
  local holder = redis.call('GET', KEYS[6] .. 'idem:' .. idem[1])
  if not holder then return false end
  return holder, redis.call('HGET', KEYS[5] .. holder, 'status') or 'expired'
end

local idle_left = redis.call('ZCARD', KEYS[8]) > 0
local had_idle = idle_left
local ready = {}  -- score, id pairs: one ZADD for the whole batch
for _, job in ipairs(jobs) do
  local id, when, prio, ukey, extra = job[1], job[2], tonumber(job[3]), job[4], job[7]
  local idem = job[8]
  local job_key = KEYS[5] .. id
  local holder, held_status = false, nil
  if idem then holder, held_status = idempotent_holder(idem) end
  if not holder and ukey ~= '' then holder, held_status = live_holder(ukey) end
  if not holder and redis.call('HSETNX', job_key, 'task', job[5]) == 0 then
    -- A resend after a lost reply: this very job was written already.
    holder, held_status = id, redis.call('HGET', job_key, 'status')
  end
  if holder then
    out[#out + 1], out[#out + 2], out[#out + 3] = holder, held_status, 0
  else
    local due = due_of(when)
    local status = 'queued'
    if due > now then status = 'scheduled' end
    local fields = {'args', job[6], 'enq', now_text, 'status', status}
    for i = 1, #extra do fields[#fields + 1] = extra[i] end
    if prio ~= 0 then fields[#fields + 1], fields[#fields + 2] = 'prio', int_text(prio) end
    if status == 'scheduled' then
      fields[#fields + 1], fields[#fields + 2] = 'run', int_text(due)
    end
    redis.call('HSET', job_key, unpack(fields))
    if ukey ~= '' then redis.call('SET', KEYS[6] .. ukey, id) end
    if idem then redis.call('SET', KEYS[6] .. 'idem:' .. idem[1], id, 'PX', idem[2]) end
    if status == 'scheduled' then
      redis.call('ZADD', KEYS[2], due, id)
    else
      local worker = nil
      local acct, gated = traits(extra)
      if idle_left and not gated then
        worker = take_idle_worker(I, now)
        idle_left = worker ~= nil
      end
      if worker then
        hand_off(I, worker, job_key, id, job[5], job[6], now)
        status = 'running'
      else
        ready[#ready + 1] = int_text(ready_score(prio, next_number(acct)))
        ready[#ready + 1] = id
      end
    end
    -- Waiting workers are registered as idle: ring only when some were (and ran
    -- out), or when a delayed job may be due before their timers.
    if status == 'scheduled' or (status == 'queued' and had_idle) then ring = true end
    out[#out + 1], out[#out + 2], out[#out + 3] = id, status, 1
    event_append(E, id, status)
  end
end
if #ready > 0 then redis.call('ZADD', KEYS[1], unpack(ready)) end
events_flush(E)
if seq > anon_start then redis.call('SET', KEYS[3], seq) end
for acct, last in pairs(acct_last) do redis.call('HSET', KEYS[11], 'a:' .. acct, last) end
if ring then wake(KEYS[4]) end
return out
