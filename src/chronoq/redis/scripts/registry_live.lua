-- registry_live: the entries of publishers whose heartbeats are current (server clock).
-- KEYS[1] publishers  HASH publisher id -> publisher JSON
-- KEYS[2] alive       ZSET publisher id -> expiry ms
-- ARGV[1] most entries to return
-- Returns a flat array: publisher id, publisher JSON, ... (ids without an entry left out).
local limit = tonumber(ARGV[1])
if not limit or limit < 1 then return redis.error_reply('bad registry read: limit must be >= 1') end
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now_ms(), '+inf', 'LIMIT', 0, limit)
local out = {}
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', KEYS[1], id)
  if entry then
    out[#out + 1] = id
    out[#out + 1] = entry
  end
end
return out
