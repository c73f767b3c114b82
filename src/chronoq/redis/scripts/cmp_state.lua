-- cmp_state: one lifecycle transition of a campaign, compare-and-set on its state.
-- schedule: draft -> scheduled. pause: scheduled -> paused. resume: paused or
-- failed -> scheduled. cancel: any but completed -> cancelled. complete:
-- scheduled with no live run -> completed. fail: scheduled or paused -> failed.
-- Any other pairing changes nothing (the reply says what the state is).
-- KEYS[1] record   campaign HASH (keys.py CampaignKeys.record)
-- ARGV[1] action: 'schedule', 'pause', 'resume', 'cancel', 'complete' or 'fail'
-- ARGV[2] reason (pause) or error (fail); '' otherwise
-- Returns {state before, state after}; false when there is no campaign.
local f = redis.call('HMGET', KEYS[1], 'state', 'live')
local state, live = f[1], f[2] or ''
if not state then return false end
local action, after = ARGV[1], state
if action == 'schedule' then
  if state == 'draft' then after = 'scheduled' end
elseif action == 'pause' then
  if state == 'scheduled' then after = 'paused' end
elseif action == 'resume' then
  if state == 'paused' or state == 'failed' then after = 'scheduled' end
elseif action == 'cancel' then
  if state ~= 'completed' and state ~= 'cancelled' then after = 'cancelled' end
elseif action == 'complete' then
  if state == 'scheduled' and live == '' then after = 'completed' end
elseif action == 'fail' then
  if state == 'scheduled' or state == 'paused' then after = 'failed' end
else
  return redis.error_reply('cmp_state: bad action ' .. tostring(action))
end
if after ~= state then
  redis.call('HSET', KEYS[1], 'state', after, 'updated', now_ms())
  if action == 'pause' then redis.call('HSET', KEYS[1], 'pause_reason', ARGV[2]) end
  if action == 'resume' then redis.call('HDEL', KEYS[1], 'pause_reason', 'last_error') end
  if action == 'fail' then redis.call('HSET', KEYS[1], 'last_error', ARGV[2]) end
end
return {state, after}
