-- wf_release: start pending nodes that are due, while the workflow runs (a paused
-- or cancelled one starts nothing). A released node is enqueued next, under an
-- idempotency key of its own: a crash between the two is mended by enqueueing again.
-- KEYS[1] record   workflow HASH (keys.py WorkflowKeys.record)
-- KEYS[2] nodes    node HASH (WorkflowKeys.nodes)
-- ARGV[1..] node ids
-- Returns {status, server now ms, id, node JSON, id, node JSON, ...} of the nodes
-- released; false when there is no workflow.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
local now = now_ms()
local out = {status, now}
if status ~= 'running' then return out end
for i = 1, #ARGV do
  local raw = redis.call('HGET', KEYS[2], ARGV[i])
  if raw then
    local node = cjson.decode(raw)
    if node.state == 'pending' and (tonumber(node.due) or 0) <= now then
      node.state = 'released'
      node.released = now
      raw = cjson.encode(node)
      redis.call('HSET', KEYS[2], ARGV[i], raw)
      out[#out + 1] = ARGV[i]
      out[#out + 1] = raw
    end
  end
end
return out
