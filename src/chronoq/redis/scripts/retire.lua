-- retire: a stopping worker leaves a queue: drop its idle registration and hand
-- back the jobs already handed off to its inbox (attempt not counted).
-- KEYS[1] idle         ZSET of idle workers; score = registration ms
-- KEYS[2] idle_leases  HASH worker id -> 'token|lease ms|slots'
-- KEYS[3] inbox        this worker's inbox LIST
-- KEYS[4] active       ZSET of leased ids; score = lease expiry ms
-- KEYS[5] ready        ZSET of ready ids; score = priority, then FIFO
-- KEYS[6] wake         doorbell LIST
-- KEYS[7] job_prefix   job HASH key prefix (+ id)
-- ARGV[1] worker id
-- Returns the number of handed-off jobs returned to the queue.
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local returned = 0
while true do
  local raw = redis.call('LPOP', KEYS[3])
  if not raw then break end
  -- An entry that is not ours to read is dropped: its job (if any) stays leased, and
  -- recover requeues it when the lease expires. So does a job whose record is bad
  -- (recover dead-letters it).
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'table' and type(entry[1]) == 'string' then
    local id, token = entry[1], entry[#entry]  -- a run_entry, the lease token last
    local job_key = KEYS[7] .. id
    if holds_lease(redis.call('HGET', job_key, 'lease'), token) then
      local f, why = read_job(job_key, HAND_BACK_FIELDS)
      if not why then
        hand_back(KEYS[4], KEYS[5], job_key, id, f)
        returned = returned + 1
      end
    end
  end
end
if returned > 0 then wake(KEYS[6]) end
return returned
