-- cmp_enroll: enrol recipients not enrolled before, up to max_recipients in all
-- (a recipient is enrolled once per campaign, whichever run found it).
-- KEYS[1] record       campaign HASH (keys.py CampaignKeys.record)
-- KEYS[2] recipients   enrolled HASH (CampaignKeys.recipients)
-- ARGV[1] max_recipients (0: no limit)
-- ARGV[2..] email (lowercased), recipient JSON pairs, in the order found
-- Returns {enrolled in all, email, email, ...}: the emails enrolled now, in order;
-- false when there is no campaign.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local cap = tonumber(ARGV[1])
if not cap or cap < 0 then
  return redis.error_reply('cmp_enroll: max_recipients must be >= 0, got ' .. ARGV[1])
end
if (#ARGV - 1) % 2 ~= 0 then
  return redis.error_reply('cmp_enroll: emails and JSON must come in pairs')
end
for i = 3, #ARGV, 2 do
  if ARGV[i - 1] == '' then return redis.error_reply('cmp_enroll: empty email') end
  local ok = pcall(cjson.decode, ARGV[i])
  if not ok then return redis.error_reply('cmp_enroll: ' .. ARGV[i - 1] .. ' is not JSON') end
end
local total = redis.call('HLEN', KEYS[2])
local out = {0}
for i = 2, #ARGV, 2 do
  if cap > 0 and total >= cap then break end
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    total = total + 1
    out[#out + 1] = ARGV[i]
  end
end
out[1] = total
return out
