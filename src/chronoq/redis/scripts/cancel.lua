-- cancel: cancel a job that is still waiting (queued, scheduled or retrying).
-- KEYS[1] ready ZSET   KEYS[2] scheduled ZSET   KEYS[3] done ZSET
-- KEYS[4] job key prefix   KEYS[5] unique key prefix
-- ARGV[1] id   ARGV[2] retention ms
-- Returns 'cancelled', or the job's current status when it cannot be cancelled,
-- or false when no such job exists.
local now = now_ms()
local id = ARGV[1]
local job_key = KEYS[4] .. id
local status = redis.call('HGET', job_key, 'status')
if not status then return false end
if status ~= 'queued' and status ~= 'scheduled' and status ~= 'retrying' then
  return status
end
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
release_unique(KEYS[5], job_key, id)
finish(job_key, KEYS[3], id, 'cancelled', now, tonumber(ARGV[2]))
return 'cancelled'
