-- cmp_run_end: record that the live run's workflow ended (a workflow's end is
-- final, so whoever saw it may record it; the first does). A failed run fails
-- the campaign with its error; a completed one completes it when no later run
-- may start (`final`: max_runs reached, the schedule's end passed, a `once`).
-- KEYS[1] record   campaign HASH (keys.py CampaignKeys.record)
-- KEYS[2] runs     run HASH (CampaignKeys.runs)
-- ARGV[1] run number
-- ARGV[2] how its workflow ended: 'completed', 'failed' or 'cancelled'
-- ARGV[3] its error ('' when none)
-- ARGV[4] final: '1' when no later run may start, else '0'
-- Returns {1 when recorded now else 0, state after}; false when there is no campaign.
local f = redis.call('HMGET', KEYS[1], 'state', 'live')
local state, live = f[1], f[2] or ''
if not state then return false end
local status = ARGV[2]
if status ~= 'completed' and status ~= 'failed' and status ~= 'cancelled' then
  return redis.error_reply('cmp_run_end: bad status ' .. tostring(status))
end
if live == '' or live ~= ARGV[1] then return {0, state} end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return redis.error_reply('cmp_run_end: live run ' .. ARGV[1] .. ' has no entry') end
local now = now_ms()
local entry = cjson.decode(raw)
entry.status, entry.ended = status, now
if ARGV[3] ~= '' then entry.error = ARGV[3] end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(entry))
redis.call('HSET', KEYS[1], 'live', '', 'updated', now)
local after = state
if status == 'failed' and (state == 'scheduled' or state == 'paused') then
  after = 'failed'
  redis.call('HSET', KEYS[1], 'last_error', 'run ' .. ARGV[1] .. ': ' .. ARGV[3])
elseif status == 'completed' and ARGV[4] == '1' and state == 'scheduled' then
  after = 'completed'
end
if after ~= state then redis.call('HSET', KEYS[1], 'state', after) end
return {1, after}
