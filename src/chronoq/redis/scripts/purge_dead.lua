-- purge_dead: delete dead-lettered jobs for good.
-- KEYS[1] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[2] job_prefix     job HASH key prefix (+ id)
-- KEYS[3] result_prefix  result STRING key prefix (+ id)
-- KEYS[4] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- ARGV[1] '*' for every dead job (up to ARGV[2]), or a job id
-- ARGV[2] max jobs per call
-- Returns the number of jobs deleted.
local ids
if ARGV[1] == '*' then
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
else
  ids = {ARGV[1]}
end
local D = {dead = KEYS[1], job_prefix = KEYS[2], result_prefix = KEYS[3], ix = KEYS[4]}
local deleted = 0
for _, id in ipairs(ids) do
  if purge_dead_job(D, id, false) then deleted = deleted + 1 end
end
return deleted
