-- cmp_run_start: start the campaign's next run, if the caller's fencing token is
-- the freshest seen (a holder of the campaign lock whose lease lapsed cannot start
-- one), the campaign is scheduled, no run is live (one run at a time) and max_runs
-- allows. A fresher token is kept even when the start is refused.
-- KEYS[1] record   campaign HASH (keys.py CampaignKeys.record)
-- KEYS[2] runs     run HASH (CampaignKeys.runs)
-- ARGV[1] fencing token of the caller's `campaign:<name>` lock (a whole number)
-- ARGV[2] max_runs (0: no limit)
-- Returns {'started', run number, workflow id} or {'refused', reason, live run};
-- reason 'stale', 'live', 'max_runs' or the state; false when there is no campaign.
local f = redis.call('HMGET', KEYS[1], 'state', 'live', 'fence', 'runs', 'name')
local state, live = f[1], f[2] or ''
if not state then return false end
local fence, max_runs = tonumber(ARGV[1]), tonumber(ARGV[2])
if not fence or fence ~= math.floor(fence) then
  return redis.error_reply('cmp_run_start: fence must be a whole number, got ' .. ARGV[1])
end
if not max_runs or max_runs < 0 then
  return redis.error_reply('cmp_run_start: max_runs must be >= 0, got ' .. ARGV[2])
end
local now = now_ms()
local function refuse(reason)
  redis.call('HSET', KEYS[1], 'refused', reason, 'refused_at', now)
  return {'refused', reason, live}
end
if fence <= (tonumber(f[3]) or 0) then return refuse('stale') end
redis.call('HSET', KEYS[1], 'fence', int_text(fence))
if state ~= 'scheduled' then return refuse(state) end
if live ~= '' then return refuse('live') end
local runs = tonumber(f[4]) or 0
if max_runs > 0 and runs >= max_runs then return refuse('max_runs') end
local run = runs + 1
local workflow = 'cmp-' .. f[5] .. '-' .. run
redis.call('HSET', KEYS[1], 'runs', run, 'live', run, 'updated', now)
redis.call('HDEL', KEYS[1], 'refused', 'refused_at')
redis.call('HSET', KEYS[2], run, cjson.encode({run = run, workflow = workflow,
  fence = fence, started = now, status = 'running'}))
return {'started', run, workflow}
