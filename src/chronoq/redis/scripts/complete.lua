-- complete: record successful runs, checking each lease token.
-- KEYS[1] active ZSET   KEYS[2] done ZSET   KEYS[3] job key prefix
-- KEYS[4] result key prefix   KEYS[5] unique key prefix   KEYS[6] stats HASH
-- KEYS[7] ready ZSET   KEYS[8] wake LIST
-- KEYS[9] gate SET prefix   KEYS[10] parked LIST prefix   KEYS[11] blocked ZSET
-- ARGV[1] retention ms   ARGV[2] result TTL ms (0: keep no result)
-- ARGV[3] number of jobs, then per job: id, lease token, result JSON ('' : none)
-- Returns the ids whose lease was no longer theirs (their outcome was discarded).
local now = now_ms()
local G = {gate = KEYS[9], parked = KEYS[10], blocked = KEYS[11], active = KEYS[1],
  ready = KEYS[7], wake = KEYS[8], job = KEYS[3]}
local retention, result_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local stale = {}
local ok = 0
for i = 4, 3 + 3 * tonumber(ARGV[3]), 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local job_key = KEYS[3] .. id
  if redis.call('HGET', job_key, 'lease') == token then
    local f, why = read_job(job_key, {'gate'})
    redis.call('ZREM', KEYS[1], id)
    release_unique(KEYS[5], job_key, id)
    if why then
      -- The run succeeded: keep its success. Its gates cannot be left (the holders'
      -- sets forget it once it is not active; recover wakes jobs parked behind them).
      redis.call('HSET', job_key, 'err', why)
    else
      gate_leave(G, f.gate, id)
    end
    finish(job_key, KEYS[2], id, 'succeeded', now, retention)
    if result ~= '' and result_ttl > 0 then
      redis.call('SET', KEYS[4] .. id, result, 'PX', result_ttl)
    end
    ok = ok + 1
  else
    stale[#stale + 1] = id
  end
end
if ok > 0 then redis.call('HINCRBY', KEYS[6], 'succeeded', ok) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - retention)
return stale
