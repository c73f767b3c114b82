-- cmp_step_end: the step this job began for this recipient did its work: mark it
-- sent, so no job of any run does it again.
-- KEYS[1] marks    step mark HASH (keys.py CampaignKeys.marks)
-- KEYS[2] deferred  step deferral HASH (CampaignKeys.deferred): its entry is cleared
-- ARGV[1] step name
-- ARGV[2] email (lowercased)
-- ARGV[3] job id
-- Returns 1 when marked now; 0 when the mark is another job's or not begun.
local field = ARGV[1] .. '|' .. ARGV[2]
local raw = redis.call('HGET', KEYS[1], field)
if not raw then return 0 end
local mark = cjson.decode(raw)
if mark.job ~= ARGV[3] or mark.state ~= 'begun' then return 0 end
redis.call('HSET', KEYS[1], field, cjson.encode({job = ARGV[3], state = 'sent', at = now_ms()}))
redis.call('HDEL', KEYS[2], field)
return 1
