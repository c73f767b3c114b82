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
-- KEYS[9] fair           fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[10] events        STREAM of state changes (capped)
-- ARGV[1] job id
-- ARGV[2] task name
-- ARGV[3] args JSON
-- ARGV[4] priority, a whole number within -1000..1000
-- ARGV[5] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[6..] extra job hash fields as name, value pairs (options, max retries, ...);
--         not uniq, idem, gate or acct: those jobs go through enqueue.lua
-- Returns {id, status, created}: as enqueue.lua for one job ('running' when handed
-- off; created 0 with the stored status when the id exists: a resend).
local id, task, args = ARGV[1], ARGV[2], ARGV[3]
if id == '' or task == '' then return redis.error_reply('bad enqueue: no id or task name') end
local prio, why = check_priority('priority', ARGV[4])
if prio == nil then return redis.error_reply('bad enqueue: ' .. why) end
local PLAIN_ONLY = {uniq = true, idem = true, gate = true, acct = true}
local fields = {'args', args, 'status', 'queued'}
for i = 6, #ARGV, 2 do
  local name, value = ARGV[i], ARGV[i + 1]
  if value == nil or PLAIN_ONLY[name] then
    return redis.error_reply('bad enqueue: field ' .. tostring(name) .. ' needs enqueue.lua')
  end
  local check = FIELD_CHECKS[name]
  if check then
    local checked, problem = check(name, value)
    if checked == nil then return redis.error_reply('bad enqueue: ' .. problem) end
  end
  fields[#fields + 1], fields[#fields + 2] = name, value
end

local job_key = KEYS[4] .. id
if redis.call('HSETNX', job_key, 'task', task) == 0 then
  return {id, redis.call('HGET', job_key, 'status') or 'expired', 0}  -- a resend
end
local now = now_ms()
fields[#fields + 1], fields[#fields + 2] = 'enq', int_text(now)
if prio ~= 0 then fields[#fields + 1], fields[#fields + 2] = 'prio', int_text(prio) end
redis.call('HSET', job_key, unpack(fields))

if redis.call('ZCARD', KEYS[6]) > 0 then
  local I = {idle = KEYS[6], leases = KEYS[7], inbox = KEYS[8], active = KEYS[5]}
  local worker = take_idle_worker(I, now)
  if worker then
    hand_off(I, worker, job_key, id, task, args, now)
    event_append(events_of(KEYS[10], ARGV[5]), id, 'running')
    return {id, 'running', 1}
  end
  wake(KEYS[3])  -- registered workers went stale: ring for whoever waits
end
local vt = tonumber(redis.call('HGET', KEYS[9], 'vt') or '0')
local seq = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), vt) + 1
redis.call('SET', KEYS[2], int_text(seq))
redis.call('ZADD', KEYS[1], int_text(ready_score(prio, seq)), id)
event_append(events_of(KEYS[10], ARGV[5]), id, 'queued')
return {id, 'queued', 1}
