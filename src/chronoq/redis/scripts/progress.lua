-- progress: record what a running task reported of its progress, while its run
-- still holds the job's lease (a stale run, or a record already gone, writes nothing:
-- a bare HSET would make a record of two fields out of a trimmed job).
-- KEYS[1] job_prefix  job HASH key prefix (+ id)
-- ARGV[1] job id
-- ARGV[2] lease token of the run
-- ARGV[3] fraction done, a decimal within 0..1 (checked by the caller)
-- ARGV[4] message ('' for none)
-- Returns 1 when recorded, 0 when the run no longer holds the job
local job_key = KEYS[1] .. ARGV[1]
if not holds_lease(redis.call('HGET', job_key, 'lease'), ARGV[2]) then return 0 end
redis.call('HSET', job_key, 'prog', ARGV[3], 'pmsg', ARGV[4])
return 1
