-- schedule_advance: record fired runs and move a schedule to its next due time,
-- only if no other scheduler did so first (compare-and-set on the due time).
-- KEYS[1] due      ZSET name -> due ms
-- KEYS[2] runs     HASH name -> runs fired
-- KEYS[3] last     HASH name -> last-run JSON
-- KEYS[4] history  LIST of this schedule's run records (JSON), newest first
-- ARGV[1] name
-- ARGV[2] the due ms this scheduler read
-- ARGV[3] next due ms, '' when the schedule is over
-- ARGV[4] runs fired (added to its count)
-- ARGV[5] last-run JSON, '' to keep the previous one
-- ARGV[6] most run records kept in the history
-- ARGV[7..] run records to add (JSON, oldest first): written only with the advance
-- Returns 1 when this call advanced the schedule, 0 when it had moved already
-- (another scheduler fired it, or an operator changed it).
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not current or tonumber(current) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], tonumber(ARGV[3]), ARGV[1])
end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[2], ARGV[1], tonumber(ARGV[4])) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[5]) end
if #ARGV > 6 then
  redis.call('LPUSH', KEYS[4], unpack(ARGV, 7))
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[6]) - 1)
end
return 1
