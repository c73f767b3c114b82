-- recover: requeue jobs whose lease expired (their worker died or hung).
-- The lost run counts as an attempt (it was counted at claim); a job out of
-- attempts goes to the dead-letter queue with reason 'worker lost'.
-- KEYS[1] active ZSET   KEYS[2] ready ZSET   KEYS[3] seq   KEYS[4] dead ZSET
-- KEYS[5] wake LIST     KEYS[6] job key prefix   KEYS[7] unique key prefix
-- KEYS[8] stats HASH
-- ARGV[1] default max retries (for jobs that store none)   ARGV[2] max jobs per call
-- Returns {requeued count, dead-lettered count}.
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local requeued, dead = 0, 0
local reason = 'worker lost: lease expired while the job was running'
for _, id in ipairs(expired) do
  local job_key = KEYS[6] .. id
  redis.call('ZREM', KEYS[1], id)
  if redis.call('EXISTS', job_key) == 1 then
    local f = redis.call('HMGET', job_key, 'att', 'maxr')
    local maxr = tonumber(f[2] or ARGV[1])
    redis.call('HDEL', job_key, 'lease')
    redis.call('HSET', job_key, 'err', reason, 'tb', '')
    if tonumber(f[1] or '0') > maxr then
      release_unique(KEYS[7], job_key, id)
      redis.call('HSET', job_key, 'status', 'dead', 'fin', now)
      redis.call('ZADD', KEYS[4], now, id)
      dead = dead + 1
    else
      push_ready(KEYS[2], KEYS[3], job_key, id)
      requeued = requeued + 1
    end
  end
end
if requeued + dead > 0 then redis.call('HINCRBY', KEYS[8], 'lost', requeued + dead) end
if requeued > 0 then wake(KEYS[5]) end
if dead > 0 then redis.call('HINCRBY', KEYS[8], 'dead', dead) end
return {requeued, dead}
