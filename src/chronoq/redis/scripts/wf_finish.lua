-- wf_finish: record the outcome of one workflow step's job, once. A node not
-- released or enqueued (already finished, or never started) is left alone, as is
-- one whose job is another.
-- KEYS[1] record   workflow HASH (keys.py WorkflowKeys.record)
-- KEYS[2] nodes    node HASH (WorkflowKeys.nodes)
-- ARGV[1] node id
-- ARGV[2] job id
-- ARGV[3] outcome: 'succeeded', 'dead' or 'cancelled'
-- ARGV[4] result JSON ('' for none)
-- ARGV[5] error text ('' for none)
-- Returns {recorded (1/0), the open stage's unfinished nodes, status}; false when
-- there is no such workflow or node.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return false end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return false end
local outcome = ARGV[3]
if outcome ~= 'succeeded' and outcome ~= 'dead' and outcome ~= 'cancelled' then
  return redis.error_reply('wf_finish: bad outcome ' .. tostring(outcome))
end
local node = cjson.decode(raw)
local open = tonumber(redis.call('HGET', KEYS[1], 'open')) or 0
local live = node.state == 'released' or node.state == 'enqueued'
if not live or (node.job and node.job ~= ARGV[2]) then
  return {0, open, status}
end
local now = now_ms()
node.state = outcome
node.job = ARGV[2]
node.finished = now
if ARGV[4] ~= '' then node.result = ARGV[4] end
if ARGV[5] ~= '' then node.error = ARGV[5] end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(node))
open = open - 1  -- (HSET, not HINCRBY: the producer's ACL has no HINCRBY)
redis.call('HSET', KEYS[1], 'open', open, 'updated', now)
return {1, open, status}
