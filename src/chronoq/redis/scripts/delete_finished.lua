-- delete_finished: delete a finished job for good: its record, result, finished
-- index entry and search index entries (a dead one as purge_dead.lua does), at once.
-- KEYS[1] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[2] done           ZSET of succeeded ids (done:<status>: finished otherwise)
-- KEYS[3] job_prefix     job HASH key prefix (+ id)
-- KEYS[4] result_prefix  result STRING key prefix (+ id)
-- KEYS[5] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- ARGV[1] job id
-- Returns {'deleted', status it had}; {'refused', status} for a job not finished
-- (waiting or running: nothing written); or false: no such job.
local id = ARGV[1]
local job_key = KEYS[3] .. id
local f = redis.call('HMGET', job_key, 'status', 'task', 'acct', 'fp')
local status = f[1]
if not status then
  if redis.call('EXISTS', job_key) == 0 then return false end
  return {'refused', 'unknown'}
end
if status == 'dead' then
  redis.call('ZREM', KEYS[1], id)
  unindex_dead(KEYS[5], job_key, id, {f[2], f[3], f[4]})
  redis.call('DEL', job_key, KEYS[4] .. id)
  return {'deleted', 'dead'}
end
local FINISHED = {succeeded = true, cancelled = true, expired = true, skipped = true}
if not FINISHED[status] then return {'refused', status} end
local index = KEYS[2]
if status ~= 'succeeded' then index = KEYS[2] .. ':' .. status end
redis.call('ZREM', index, id)
unindex_finished(KEYS[5], {f[2], f[3]}, id)
redis.call('DEL', job_key, KEYS[4] .. id)
return {'deleted', status}
