-- wf_control: pause, resume or cancel a whole workflow. Pause: no pending node is
-- released until resume (nodes already released run to their end). Cancel: nothing
-- more is released; the caller cancels the jobs still waiting or running.
-- KEYS[1] record   workflow HASH (keys.py WorkflowKeys.record)
-- ARGV[1] 'pause', 'resume' or 'cancel'
-- Returns {status before, status after}; false when there is no workflow.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
local action = ARGV[1]
local after = status
if action == 'pause' then
  if status == 'running' then after = 'paused' end
elseif action == 'resume' then
  if status == 'paused' then after = 'running' end
elseif action == 'cancel' then
  if status == 'running' or status == 'paused' then after = 'cancelled' end
else
  return redis.error_reply('wf_control: bad action ' .. tostring(action))
end
if after ~= status then
  local now = now_ms()
  redis.call('HSET', KEYS[1], 'status', after, 'updated', now)
  if after == 'cancelled' then redis.call('HSET', KEYS[1], 'ended', now) end
end
return {status, after}
