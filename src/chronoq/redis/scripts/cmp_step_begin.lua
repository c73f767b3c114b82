-- cmp_step_begin: the grant's campaign half, before one step job sends to one
-- recipient: cancelled or failed -> skip; paused (or draft) -> defer; the step
-- already begun for this recipient by another job, or sent -> skip; a stop
-- recorded for the recipient (a reason the campaign stops on) or a suppression
-- -> skip, recorded; else the step is marked begun by this job (its retries go on).
-- KEYS[1] record   campaign HASH (keys.py CampaignKeys.record)
-- KEYS[2] stops    stop HASH (CampaignKeys.stops)
-- KEYS[3] marks    step mark HASH (CampaignKeys.marks)
-- KEYS[4] deferred  step deferral HASH (CampaignKeys.deferred): cleared on a skip
-- ARGV[1] step name
-- ARGV[2] email (lowercased)
-- ARGV[3] job id
-- ARGV[4] the stop reasons the campaign stops on, comma-separated
-- ARGV[5] suppression reason ('' when the email is not suppressed)
-- Returns {'go'}, {'defer', state}, {'skip', reason} or {'sent', ''} (this very
-- job sent it already: its worker died after the send, before the job's outcome was
-- recorded); false when there is no campaign.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
if ARGV[1] == '' or ARGV[2] == '' or ARGV[3] == '' then
  return redis.error_reply('cmp_step_begin: step, email and job must be given')
end
if state == 'cancelled' or state == 'failed' then return {'skip', 'campaign ' .. state} end
if state == 'paused' or state == 'draft' then return {'defer', state} end
local field = ARGV[1] .. '|' .. ARGV[2]
local raw = redis.call('HGET', KEYS[3], field)
if raw then
  local mark = cjson.decode(raw)
  if mark.job ~= ARGV[3] then return {'skip', 'already ' .. tostring(mark.state) .. ' by job ' .. tostring(mark.job)} end
  if mark.state == 'sent' then return {'sent', ''} end
  if mark.state ~= 'begun' then return {'skip', 'already ' .. tostring(mark.state)} end
end
local now = now_ms()
local function skip(reason)
  redis.call('HSET', KEYS[3], field, cjson.encode({job = ARGV[3], state = 'skipped',
    reason = reason, at = now}))
  redis.call('HDEL', KEYS[4], field)
  return {'skip', reason}
end
local stop = redis.call('HGET', KEYS[2], ARGV[2])
if stop then
  for reason in string.gmatch(ARGV[4], '[^,]+') do
    if reason == stop then return skip('stopped: ' .. stop) end
  end
end
if ARGV[5] ~= '' then return skip('suppressed: ' .. ARGV[5]) end
redis.call('HSET', KEYS[3], field, cjson.encode({job = ARGV[3], state = 'begun', at = now}))
return {'go'}
