-- trim: forget jobs of one final state beyond its retention (older than its age, or
-- beyond the newest `count` of its state), one bounded batch per call.
-- complete.lua trims the done index by age only when jobs complete, so without this
-- an idle queue keeps every entry (and whatever its record left behind) forever.
-- Removes the oldest due entries of the state's index, with their job hash when it is
-- still there and in that state (or, in a finished index, any finished state: records
-- written before the states had indexes of their own) and their result string
-- (unreachable once the record is gone). Counted in stats 'trimmed'.
-- KEYS[1] done           ZSET of succeeded ids; score = finish ms
-- KEYS[2] done_prefix    ZSETs of ids finished otherwise (+ status); score = finish ms
-- KEYS[3] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[4] job_prefix     job HASH key prefix (+ id)
-- KEYS[5] result_prefix  result STRING key prefix (+ id)
-- KEYS[6] stats          HASH of lifetime counters
-- ARGV[1] state: succeeded, cancelled, expired, skipped or dead
-- ARGV[2] age ms: forget entries finished before now - age (0: no age limit)
-- ARGV[3] count: keep at most the newest this many (0: no count limit)
-- ARGV[4] most entries per call (> 0)
-- Returns the number of entries removed; ARGV[4] means more may be due: call again.
local FINISHED = {succeeded = true, cancelled = true, expired = true, skipped = true}
local state, age, count, batch = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not FINISHED[state] and state ~= 'dead' then
  return redis.error_reply('trim: unknown state ' .. tostring(state))
end
if not age or age < 0 then
  return redis.error_reply('trim: age ms must be a number >= 0, got ' .. tostring(ARGV[2]))
end
if not count or count < 0 then
  return redis.error_reply('trim: count must be a number >= 0, got ' .. tostring(ARGV[3]))
end
if not batch or batch < 1 then
  return redis.error_reply('trim: batch size must be a positive number, got ' .. tostring(ARGV[4]))
end
local index = KEYS[1]
if state == 'dead' then index = KEYS[3] elseif state ~= 'succeeded' then index = KEYS[2] .. state end

-- The oldest entries due: beyond the count first, then by age.
local n = 0
if count > 0 then n = math.min(batch, math.max(0, redis.call('ZCARD', index) - count)) end
local ids
if n > 0 then
  ids = redis.call('ZRANGE', index, 0, n - 1)
  if n < batch and age > 0 then
    local more = redis.call('ZRANGEBYSCORE', index, '-inf', now_ms() - age, 'LIMIT', n, batch - n)
    for _, id in ipairs(more) do ids[#ids + 1] = id end
  end
elseif age > 0 then
  ids = redis.call('ZRANGEBYSCORE', index, '-inf', now_ms() - age, 'LIMIT', 0, batch)
else
  return 0
end
if #ids == 0 then return 0 end
-- Read everything first: a failing read must not leave half a batch written.
local doomed = {}
for _, id in ipairs(ids) do
  local status = redis.call('HGET', KEYS[4] .. id, 'status')
  if not status or status == state or (state ~= 'dead' and FINISHED[status]) then
    doomed[#doomed + 1] = KEYS[5] .. id
    if status then doomed[#doomed + 1] = KEYS[4] .. id end
  end
end
redis.call('ZREMRANGEBYRANK', index, 0, #ids - 1)
for i = 1, #doomed, 500 do
  redis.call('DEL', unpack(doomed, i, math.min(i + 499, #doomed)))
end
redis.call('HINCRBY', KEYS[6], 'trimmed', #ids)
return #ids
