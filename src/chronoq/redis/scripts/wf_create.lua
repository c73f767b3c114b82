-- wf_create: store a new workflow with its first stage's nodes (pending), unless
-- one with this id exists already (a retried start makes one workflow).
-- KEYS[1] record   workflow HASH (keys.py WorkflowKeys.record)
-- KEYS[2] nodes    node HASH (WorkflowKeys.nodes)
-- ARGV[1] spec JSON
-- ARGV[2] name
-- ARGV[3..] node id, node JSON pairs of stage 0
-- Returns the creation time ms; false when the workflow existed.
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if (#ARGV - 2) % 2 ~= 0 then
  return redis.error_reply('wf_create: node ids and JSON must come in pairs')
end
for i = 4, #ARGV, 2 do
  local ok = pcall(cjson.decode, ARGV[i])
  if not ok then return redis.error_reply('wf_create: node ' .. ARGV[i - 1] .. ' is not JSON') end
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'status', 'running', 'stage', 0, 'open', (#ARGV - 2) / 2,
  'spec', ARGV[1], 'name', ARGV[2], 'created', now, 'updated', now)
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return now
