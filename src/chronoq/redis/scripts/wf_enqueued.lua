-- wf_enqueued: record the jobs released nodes were enqueued as.
-- KEYS[1] record   workflow HASH (keys.py WorkflowKeys.record)
-- KEYS[2] nodes    node HASH (WorkflowKeys.nodes)
-- ARGV[1..] node id, job id, queue triples
-- Returns {nodes recorded (one past 'released' is left alone), the workflow's
-- status}: the caller cancels the jobs of a workflow cancelled meanwhile.
if #ARGV % 3 ~= 0 then
  return redis.error_reply('wf_enqueued: give node id, job id, queue triples')
end
local status = redis.call('HGET', KEYS[1], 'status') or ''
local count = 0
for i = 1, #ARGV, 3 do
  local raw = redis.call('HGET', KEYS[2], ARGV[i])
  if raw then
    local node = cjson.decode(raw)
    if node.state == 'released' then
      node.state = 'enqueued'
      node.job = ARGV[i + 1]
      node.queue = ARGV[i + 2]
      redis.call('HSET', KEYS[2], ARGV[i], cjson.encode(node))
      count = count + 1
    end
  end
end
return {count, status}
