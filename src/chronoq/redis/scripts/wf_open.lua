-- wf_open: open the next stage once every node of the current one finished
-- (compare-and-set on the stage index: of several advancers one opens it), or end
-- the workflow. Nodes are stored pending; wf_release starts them when due.
-- KEYS[1] record   workflow HASH (keys.py WorkflowKeys.record)
-- KEYS[2] nodes    node HASH (WorkflowKeys.nodes)
-- ARGV[1] the stage index expected open now
-- ARGV[2] the workflow's status after: '' (unchanged), 'completed' or 'failed'
-- ARGV[3] error text for a failed workflow ('' for none)
-- ARGV[4..] node id, node JSON pairs of the next stage (none when it ends)
-- Returns 1 when opened (or ended); 0 when the stage moved on, nodes are still
-- open or the workflow is cancelled or over; false when there is no workflow.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
if status ~= 'running' and status ~= 'paused' then return 0 end
local stage = tonumber(redis.call('HGET', KEYS[1], 'stage'))
local open = tonumber(redis.call('HGET', KEYS[1], 'open')) or 0
if stage ~= tonumber(ARGV[1]) or open > 0 then return 0 end
local after = ARGV[2]
if after ~= '' and after ~= 'completed' and after ~= 'failed' then
  return redis.error_reply('wf_open: bad status ' .. tostring(after))
end
if (#ARGV - 3) % 2 ~= 0 then
  return redis.error_reply('wf_open: node ids and JSON must come in pairs')
end
for i = 5, #ARGV, 2 do
  local ok = pcall(cjson.decode, ARGV[i])
  if not ok then return redis.error_reply('wf_open: node ' .. ARGV[i - 1] .. ' is not JSON') end
end
local now = now_ms()
if after ~= '' then
  redis.call('HSET', KEYS[1], 'status', after, 'updated', now, 'ended', now)
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[3]) end
  return 1
end
redis.call('HSET', KEYS[1], 'stage', stage + 1, 'open', (#ARGV - 3) / 2, 'updated', now)
for i = 4, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return 1
