-- undefer: a limit changed: jobs it had booked for later become due now, to be
-- decided again under the new numbers.
-- KEYS[1] scheduled   ZSET of ids waiting for a time; score = due ms
-- KEYS[2] job_prefix  job HASH key prefix (+ id)
-- KEYS[3] wake        doorbell LIST
-- ARGV[1] limit name
-- ARGV[2..] job ids
-- Returns the number of jobs made due. A job no longer waiting on a booking of this
-- limit (it ran, or was changed since) is left alone.
local now = now_ms()
local moved = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local job_key = KEYS[2] .. id
  -- A bad 'lres' leaves the job as it is: the claim dead-letters it when it is due.
  local f, why = read_job(job_key, {'status', 'lres'})
  local res = nil
  if f.status == 'scheduled' and f.lres and not why then res = cjson.decode(f.lres) end
  if res and res[ARGV[1]] then
    res[ARGV[1]] = nil
    if next(res) then redis.call('HSET', job_key, 'lres', cjson.encode(res))
    else redis.call('HDEL', job_key, 'lres') end
    redis.call('HSET', job_key, 'run', now)
    redis.call('ZADD', KEYS[1], now, id)
    moved = moved + 1
  end
end
if moved > 0 then wake(KEYS[3]) end
return moved
