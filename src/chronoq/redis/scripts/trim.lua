-- trim: forget jobs of one final state beyond its retention (older than its age, or
-- beyond the newest `count` of its state), one bounded batch per call.
-- complete.lua trims the done index by age only when jobs complete, so without this
-- an idle queue keeps every entry (and whatever its record left behind) forever.
-- Removes the oldest due entries of the state's index, with their job hash when it is
-- still there and in that state (or, in a finished index, any finished state: records
-- written before the states had indexes of their own), their result string
-- (unreachable once the record is gone) and their search index entries (by task and
-- account, and a dead job's by fingerprint). Counted in stats 'trimmed'. The finished
-- search indexes also lose every entry older than ARGV[5] (records that expired on
-- their own before the trimmer could read them: see trim_indexes).
-- KEYS[1] done           ZSET of succeeded ids; score = finish ms
-- KEYS[2] done_prefix    ZSETs of ids finished otherwise (+ status); score = finish ms
-- KEYS[3] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[4] job_prefix     job HASH key prefix (+ id)
-- KEYS[5] result_prefix  result STRING key prefix (+ id)
-- KEYS[6] stats          HASH of lifetime counters
-- KEYS[7] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- ARGV[1] state: succeeded, cancelled, expired, skipped or dead
-- ARGV[2] age ms: forget entries finished before now - age (0: no age limit)
-- ARGV[3] count: keep at most the newest this many (0: no count limit)
-- ARGV[4] most entries per call (> 0)
-- ARGV[5] index age ms: drop finished search index entries older than now - this,
--   the longest retention of a finished state (0: none)
-- Returns the number of entries removed; ARGV[4] means more may be due: call again
-- (also when the search indexes have more entries due).
local FINISHED = {succeeded = true, cancelled = true, expired = true, skipped = true}
local state, age, count, batch = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local index_age = tonumber(ARGV[5])
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
if not index_age or index_age < 0 then
  return redis.error_reply('trim: index age ms must be a number >= 0, got ' .. tostring(ARGV[5]))
end
local now = now_ms()
local index = KEYS[1]
if state == 'dead' then index = KEYS[3] elseif state ~= 'succeeded' then index = KEYS[2] .. state end

-- The oldest entries due: beyond the count first, then by age.
local n = 0
if count > 0 then n = math.min(batch, math.max(0, redis.call('ZCARD', index) - count)) end
local ids = {}
if n > 0 then
  ids = redis.call('ZRANGE', index, 0, n - 1)
  if n < batch and age > 0 then
    local more = redis.call('ZRANGEBYSCORE', index, '-inf', now - age, 'LIMIT', n, batch - n)
    for _, id in ipairs(more) do ids[#ids + 1] = id end
  end
elseif age > 0 then
  ids = redis.call('ZRANGEBYSCORE', index, '-inf', now - age, 'LIMIT', 0, batch)
end
-- Read everything first: a failing read must not leave half a batch written.
local doomed, finished, dead = {}, {}, {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', KEYS[4] .. id, 'status', 'task', 'acct', 'fp')
  local status = f[1]
  if not status or status == state or (state ~= 'dead' and FINISHED[status]) then
    doomed[#doomed + 1] = KEYS[5] .. id
    if status then doomed[#doomed + 1] = KEYS[4] .. id end
    if status == 'dead' then
      dead[#dead + 1] = {id, {f[2], f[3], f[4]}}
    elseif status then
      finished[#finished + 1] = {id, {f[2], f[3]}}
    end
  end
end
if #ids > 0 then
  redis.call('ZREMRANGEBYRANK', index, 0, #ids - 1)
  for _, entry in ipairs(finished) do unindex_finished(KEYS[7], entry[2], entry[1]) end
  for _, entry in ipairs(dead) do unindex_dead(KEYS[7], nil, entry[1], entry[2]) end
  for i = 1, #doomed, 500 do
    redis.call('DEL', unpack(doomed, i, math.min(i + 499, #doomed)))
  end
  redis.call('HINCRBY', KEYS[6], 'trimmed', #ids)
end
if index_age > 0 and trim_indexes(KEYS[7], now - index_age, batch) then return batch end
return #ids
