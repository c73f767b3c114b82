-- ledger_advance: move one ledger entry to a new state, if the caller may.
-- KEYS[1] entry  HASH: state, owner, data (JSON), updated (ms), history (JSON list)
-- ARGV[1] mode: 'claim' (take the entry as ARGV[2]) or 'advance' (ARGV[2] must own it)
-- ARGV[2] the caller's owner token
-- ARGV[3] the new state
-- ARGV[4] data as JSON ('' keeps the stored data)
-- ARGV[5] time to live in ms (from now, server clock)
-- ARGV[6] JSON list of the states the entry may be in ('' = no entry yet); [] = any
-- ARGV[7] history entries kept (the oldest are dropped)
-- Returns {applied 1|0, state, owner, data, updated ms, history}: the entry after
-- the call ('' fields: no entry). Refused (0) when the entry is in a state not
-- allowed, or (to advance) owned by another token: nothing is written then.
local mode = ARGV[1]
if mode ~= 'claim' and mode ~= 'advance' then
  return redis.error_reply('ledger_advance: mode must be claim or advance, got ' .. tostring(mode))
end
local allowed = cjson.decode(ARGV[6])
local keep = tonumber(ARGV[7])
if type(allowed) ~= 'table' or not keep or keep < 1 then
  return redis.error_reply('ledger_advance: bad allowed states or history length')
end
local stored = redis.call('HMGET', KEYS[1], 'state', 'owner', 'data', 'updated', 'history')
local state = stored[1] or ''
local owner = stored[2] or ''
local function current(applied)
  local now = redis.call('HMGET', KEYS[1], 'state', 'owner', 'data', 'updated', 'history')
  return {applied, now[1] or '', now[2] or '', now[3] or '', now[4] or '', now[5] or '[]'}
end
local ok = #allowed == 0
for _, name in ipairs(allowed) do
  if name == state then ok = true end
end
if not ok or (mode == 'advance' and owner ~= ARGV[2]) then
  return current(0)
end
local history = cjson.decode(stored[5] or '[]')
if type(history) ~= 'table' then history = {} end
local now = now_ms()
history[#history + 1] = {ARGV[3], now}
while #history > keep do table.remove(history, 1) end
local fields = {'state', ARGV[3], 'owner', ARGV[2], 'updated', int_text(now),
                'history', cjson.encode(history)}
if ARGV[4] ~= '' then
  fields[#fields + 1] = 'data'
  fields[#fields + 1] = ARGV[4]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return current(1)
