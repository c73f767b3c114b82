-- retry_finished: run a finished job again as a new attempt of the same job id,
-- keeping its history: the attempt that ended it (or its final mark, when it never
-- ran) and a 'retried' mark are appended to 'hist'; it leaves its finished index and
-- search indexes, its record stops expiring, its old result is dropped, and it gets
-- its retries again ('rbase'). A dead job is requeued as requeue_dead.lua does. A
-- deadline already past is dropped (retrying is the operator saying: run it anyway);
-- a pending cancel request ('cxl') is cleared.
-- KEYS[1] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[2] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[3] seq            FIFO counter of jobs naming no account
-- KEYS[4] wake           doorbell LIST
-- KEYS[5] job_prefix     job HASH key prefix (+ id)
-- KEYS[6] fair           fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[7] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[8] events         STREAM of state changes (capped)
-- KEYS[9] done           ZSET of succeeded ids (done:<status>: finished otherwise)
-- KEYS[10] result_prefix  result STRING key prefix (+ id)
-- ARGV[1] job id
-- ARGV[2] event stream cap (MAXLEN ~; 0: no events)
-- Returns {'queued', status it had}; {'refused', status} for a job not finished
-- (waiting or running: nothing written); {'invalid', reason} for a record the claim
-- could not run (nothing written but a dead job's error); or false: no such job.
local id = ARGV[1]
local job_key = KEYS[5] .. id
local E = events_of(KEYS[8], ARGV[2])
local f, why = read_job(job_key, {'status', 'task', 'args', 'acct', 'att', 'st', 'fin', 'wid',
  'err', 'tb', 'mem', 'hist', 'prio', 'dl'})
if record_gone(f, job_key) then return false end
local status = f.status
if status == 'dead' then
  local D = {dead = KEYS[1], ready = KEYS[2], seq = KEYS[3], fair = KEYS[6], job_prefix = KEYS[5],
    ix = KEYS[7], E = E}
  local outcome = requeue_dead_job(D, id, {})
  if outcome == 'requeued' then
    wake(KEYS[4])
    return {'queued', 'dead'}
  end
  if outcome == nil then return {'invalid', 'dead but not in the dead-letter queue'} end
  return {'invalid', redis.call('HGET', job_key, 'err') or 'a bad record'}
end
local FINISHED = {succeeded = true, cancelled = true, expired = true, skipped = true}
if not FINISHED[status] then return {'refused', status or 'unknown'} end
why = why or (not f.task and missing_field('task')) or (not f.args and missing_field('args'))
if why then return {'invalid', why} end

local now = now_ms()
local fin = whole_or_false(f.fin)
local last
if f.st then
  last = attempt_entry(f, status, fin, f.err, f.tb, f.mem)
else
  last = mark_entry(status, fin or now)
end
history_append(job_key, f, last, mark_entry('retried', now))
local index = KEYS[9]
if status ~= 'succeeded' then index = KEYS[9] .. ':' .. status end
redis.call('ZREM', index, id)
unindex_finished(KEYS[7], {f.task, f.acct}, id)
redis.call('PERSIST', job_key)
redis.call('DEL', KEYS[10] .. id)
redis.call('HSET', job_key, 'rbase', f.att or 0)
redis.call('HDEL', job_key, 'fin', 'st', 'wid', 'mem', 'cxl')
if f.dl and f.dl <= now then redis.call('HDEL', job_key, 'dl') end
push_ready(KEYS[2], KEYS[3], KEYS[6], job_key, id)  -- prio checked above
event_append(E, id, 'queued')
wake(KEYS[4])
return {'queued', status}
