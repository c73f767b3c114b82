-- resolve: mark a dead job, or a failure group, handled, with an operator's note.
-- A group failing again after that is open again (its 'last' passes 'resolved').
-- KEYS[1] job_prefix     job HASH key prefix (+ id)
-- KEYS[2] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- ARGV[1] 'job' or 'group'
-- ARGV[2] the dead job's id, or the group's fingerprint
-- ARGV[3] note ('' for none)
-- Returns the time of the resolution ms; false when there is no such job or group;
-- or the status of a job that is not dead.
local now = now_ms()
if ARGV[1] == 'job' then
  return resolve_dead_job(KEYS[1], ARGV[2], ARGV[3], now, false)
end
if ARGV[1] ~= 'group' then
  return redis.error_reply("resolve: ARGV[1] must be 'job' or 'group', got " .. tostring(ARGV[1]))
end
local group = KEYS[2] .. 'g:' .. ARGV[2]
if redis.call('EXISTS', group) == 0 then return false end
redis.call('HSET', group, 'resolved', now, 'note', ARGV[3])
return now
