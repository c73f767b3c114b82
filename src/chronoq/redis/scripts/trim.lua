-- trim: forget finished jobs older than the retention, one bounded batch per call.
-- complete.lua trims the done index only when jobs complete, so without this an idle
-- queue keeps every entry (and whatever its record left behind) forever. Removes the
-- oldest entries finished before now - retention, with their job hash when it is
-- still there and finished (written under a longer retention) and their result
-- string (unreachable once the record is gone). Dead jobs are not finished records:
-- they stay until requeued or purged.
-- KEYS[1] done           ZSET of finished ids; score = finish ms
-- KEYS[2] job_prefix     job HASH key prefix (+ id)
-- KEYS[3] result_prefix  result STRING key prefix (+ id)
-- KEYS[4] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- ARGV[1] retention ms (> 0)
-- ARGV[2] most entries per call (> 0)
-- Returns the number of entries removed; ARGV[2] means more may be due: call again
-- (also when the history indexes, trimmed by the same cutoff, have more due).
local retention, batch = tonumber(ARGV[1]), tonumber(ARGV[2])
if not retention or retention <= 0 then
  return redis.error_reply('trim: retention ms must be a positive number, got ' .. tostring(ARGV[1]))
end
if not batch or batch < 1 then
  return redis.error_reply('trim: batch size must be a positive number, got ' .. tostring(ARGV[2]))
end
local FINISHED = {succeeded = true, cancelled = true, expired = true, skipped = true}
local cutoff = now_ms() - retention
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, batch)
-- Read everything first: a failing read must not leave half a batch written.
local doomed = {}
for _, id in ipairs(ids) do
  local status = redis.call('HGET', KEYS[2] .. id, 'status')
  if not status or FINISHED[status] then
    doomed[#doomed + 1] = KEYS[3] .. id
    if status then doomed[#doomed + 1] = KEYS[2] .. id end
  end
end
if #ids > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1) end
for i = 1, #doomed, 500 do
  redis.call('DEL', unpack(doomed, i, math.min(i + 499, #doomed)))
end
if trim_indexes(KEYS[4], cutoff, batch) then return batch end
return #ids
