-- cmp_create: store a new campaign (its validated spec) unless one with this name
-- exists already (a retried create makes one campaign).
-- KEYS[1] record   campaign HASH (keys.py CampaignKeys.record)
-- ARGV[1] name
-- ARGV[2] spec JSON
-- ARGV[3] first state: 'draft' or 'scheduled'
-- Returns the creation time ms; false when the campaign existed.
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if ARGV[1] == '' then return redis.error_reply('cmp_create: empty name') end
local ok = pcall(cjson.decode, ARGV[2])
if not ok then return redis.error_reply('cmp_create: the spec is not JSON') end
if ARGV[3] ~= 'draft' and ARGV[3] ~= 'scheduled' then
  return redis.error_reply('cmp_create: bad first state ' .. tostring(ARGV[3]))
end
local now = now_ms()
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'spec', ARGV[2], 'state', ARGV[3], 'runs', 0,
  'live', '', 'fence', 0, 'created', now, 'updated', now)
return now
