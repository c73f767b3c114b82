-- cancel: cancel a job that is still waiting (queued, scheduled, retrying or blocked),
-- or ask the worker running it to stop it (it ends the run as 'cancelled').
-- KEYS[1] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[2] scheduled      ZSET of ids waiting for a time; score = due ms
-- KEYS[3] done           ZSET of succeeded ids (done:<status>: finished otherwise)
-- KEYS[4] job_prefix     job HASH key prefix (+ id)
-- KEYS[5] unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[6] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[7] blocked        ZSET of parked ids; score = parked ms
-- KEYS[8] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[9] events         STREAM of state changes (capped)
-- ARGV[1] id
-- ARGV[2] retention ms
-- ARGV[3] cancel channel (pub/sub, not a key): the id of a running job goes there
-- ARGV[4] event stream cap (MAXLEN ~; 0: no events)
-- Returns 'cancelled', 'cancelling' (running: its worker is told; the job's 'cxl'
-- field records when), or the job's current status when it cannot be cancelled,
-- or false when no such job exists.
local now = now_ms()
local id = ARGV[1]
local job_key = KEYS[4] .. id
local f = read_job(job_key, {'status', 'gate'})
local status = f.status
if not status then return false end
if status == 'running' then
  redis.call('HSET', job_key, 'cxl', now)  -- also seen by the lease renewal, should
  redis.call('PUBLISH', ARGV[3], id)       -- the worker miss this message
  return 'cancelling'
end
if status ~= 'queued' and status ~= 'scheduled' and status ~= 'retrying'
  and status ~= 'blocked' then
  return status
end
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
-- With a bad 'gate' its parked-list entries stay: unparking skips ids not blocked.
if redis.call('ZREM', KEYS[7], id) == 1 and type(f.gate) == 'table' then
  for _, g in ipairs(f.gate) do
    redis.call('LREM', KEYS[6] .. g[1], 1, id)
  end
end
release_unique(KEYS[5], job_key, id)
finish(job_key, KEYS[3], id, 'cancelled', now, tonumber(ARGV[2]), KEYS[8])
event_append(events_of(KEYS[9], ARGV[4]), id, 'cancelled')
return 'cancelled'
