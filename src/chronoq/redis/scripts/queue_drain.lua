-- queue_drain: cancel up to ARGV[1] waiting jobs of a queue: ready first, then
-- scheduled (delayed jobs, retries, limit deferrals), then blocked (parked behind a
-- full lock or concurrency key). Each ends 'cancelled' with the reason in its
-- error, keeps its record for the cancelled retention, frees its unique keys and
-- appends an event, as a cancel does. Running jobs are left to finish.
-- KEYS[1] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[2] scheduled      ZSET of ids waiting for a time; score = due ms
-- KEYS[3] blocked        ZSET of parked ids; score = parked ms
-- KEYS[4] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[5] done           ZSET of succeeded ids (done:<status>: finished otherwise)
-- KEYS[6] job_prefix     job HASH key prefix (+ id)
-- KEYS[7] unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[8] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[9] events         STREAM of state changes (capped)
-- ARGV[1] most jobs to cancel in this call
-- ARGV[2] retention ms of the cancelled records
-- ARGV[3] the reason written to each job's error
-- ARGV[4] event stream cap (MAXLEN ~; 0: no events)
-- Returns {cancelled from ready, from scheduled, from blocked, ids whose record was
-- gone (dropped from the index), waiting jobs left (ready + scheduled + blocked)}.
local now = now_ms()
local budget = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
if not budget or budget < 1 or not retention then
  return redis.error_reply('queue_drain: ARGV[1] must be a count >= 1 and ARGV[2] ms')
end
local E = events_of(KEYS[9], ARGV[4])
local counts = {0, 0, 0}
local gone = 0
for source = 1, 3 do
  if budget > 0 then
    local ids = redis.call('ZRANGE', KEYS[source], 0, budget - 1)
    for _, id in ipairs(ids) do
      redis.call('ZREM', KEYS[source], id)
      local job_key = KEYS[6] .. id
      local f = read_job(job_key, {'status', 'gate'})
      if record_gone(f, job_key) then
        gone = gone + 1
      else
        if source == 3 and type(f.gate) == 'table' then
          for _, g in ipairs(f.gate) do redis.call('LREM', KEYS[4] .. g[1], 1, id) end
        end
        release_unique(KEYS[7], job_key, id)
        redis.call('HSET', job_key, 'err', ARGV[3], 'tb', '')
        finish(job_key, KEYS[5], id, 'cancelled', now, retention, KEYS[8])
        event_append(E, id, 'cancelled')
        counts[source] = counts[source] + 1
      end
    end
    budget = budget - #ids
  end
end
local left = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])
return {counts[1], counts[2], counts[3], gone, left}
