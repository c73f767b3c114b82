-- ops_record: add one minute's operations counts (chronoq.core.ops) to its minute,
-- hour and day buckets, and the counted ones to the lifetime totals.
-- KEYS[1] minute         HASH bucket of the minute
-- KEYS[2] hour           HASH bucket of the hour holding it
-- KEYS[3] day            HASH bucket of the day holding it
-- KEYS[4] totals         HASH lifetime counts
-- KEYS[5] lock_families  SET lock families counted by name
-- ARGV[1] PEXPIREAT ms of the minute bucket
-- ARGV[2] PEXPIREAT ms of the hour bucket
-- ARGV[3] PEXPIREAT ms of the day bucket
-- ARGV[4] how many lock families are counted by name (the rest as '~other')
-- ARGV[5] a lock family ('' for none): every field is then that family's, and
--   'lock<TAB>family<TAB>' is put before each (the family becomes '~other' when
--   it is new and the SET holds ARGV[4] already)
-- ARGV[6..] triples: field, op ('a' add to buckets and totals, 'b' add to the
--   buckets only, 'm' keep the maximum in the buckets), integer value
-- Returns the family counted ('' when ARGV[5] is '').
local cap, family = tonumber(ARGV[4]), ARGV[5]
local at = {tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])}
if not cap or not at[1] or not at[2] or not at[3] or (#ARGV - 5) % 3 ~= 0 then
  return redis.error_reply('ops_record: needs three expiry times, a cap and field triples')
end
for i = 6, #ARGV, 3 do
  local op, n = ARGV[i + 1], tonumber(ARGV[i + 2])
  if ARGV[i] == '' or (op ~= 'a' and op ~= 'b' and op ~= 'm') or not n or n % 1 ~= 0 then
    return redis.error_reply('ops_record: bad triple ' .. ARGV[i] .. ' ' .. tostring(op)
      .. ' ' .. tostring(ARGV[i + 2]))
  end
end
local head = ''
if family ~= '' then
  if redis.call('SISMEMBER', KEYS[5], family) == 0 then
    if redis.call('SCARD', KEYS[5]) < cap then
      redis.call('SADD', KEYS[5], family)
    else
      family = '~other'
    end
  end
  head = 'lock\t' .. family .. '\t'
end
for i = 6, #ARGV, 3 do
  local field, op, n = head .. ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  for b = 1, 3 do
    if op == 'm' then
      local old = tonumber(redis.call('HGET', KEYS[b], field) or '0') or 0
      if n > old then redis.call('HSET', KEYS[b], field, n) end
    else
      redis.call('HINCRBY', KEYS[b], field, n)
    end
  end
  if op == 'a' then redis.call('HINCRBY', KEYS[4], field, n) end
end
for b = 1, 3 do redis.call('PEXPIREAT', KEYS[b], at[b]) end
return family
