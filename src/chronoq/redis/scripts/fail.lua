-- fail: record a failed attempt; schedule its retry or move it to the dead-letter queue.
-- KEYS[1]  active         ZSET of leased ids; score = lease expiry ms
-- KEYS[2]  scheduled      ZSET of ids waiting for a time; score = due ms
-- KEYS[3]  dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[4]  job_prefix     job HASH key prefix (+ id)
-- KEYS[5]  unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[6]  stats          HASH of lifetime counters
-- KEYS[7]  wake           doorbell LIST
-- KEYS[8]  ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[9]  gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[10] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[11] blocked        ZSET of parked ids; score = parked ms
-- KEYS[12] done           ZSET of succeeded ids (done:<status>: finished otherwise)
-- KEYS[13] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[14] events         STREAM of state changes (capped)
-- ARGV[1] id
-- ARGV[2] lease token
-- ARGV[3] error
-- ARGV[4] traceback
-- ARGV[5] retry delay ms, or -1 to dead-letter the job, or -2: the run was cancelled
--   (a cancel was asked for): it ends 'cancelled', neither retried nor dead-lettered
-- ARGV[6] retention ms of a finished record (for -2)
-- ARGV[7] failure group: '<fingerprint>\t<class>\t<title>', or '' (see parse_failure)
-- ARGV[8] the worker's RSS in bytes when the run ended ('': unknown)
-- ARGV[9] event stream cap (MAXLEN ~; 0: no events)
-- A retried attempt is appended to the job's history ('hist'); a final one stays
-- in the record's fields.
-- Returns the new status ('retrying' | 'dead' | 'cancelled'), or false when the lease
-- was lost.
local failure, bad_failure = parse_failure(ARGV[7])
if failure == nil then return redis.error_reply('fail: ' .. bad_failure) end
local now = now_ms()
local G = {gate = KEYS[9], parked = KEYS[10], blocked = KEYS[11], active = KEYS[1],
  ready = KEYS[8], wake = KEYS[7], job = KEYS[4]}
local D = {dead = KEYS[3], stats = KEYS[6], unique = KEYS[5], ix = KEYS[13]}
local E = events_of(KEYS[14], ARGV[9])
local id, delay, mem = ARGV[1], tonumber(ARGV[5]), whole_or_false(ARGV[8])
local job_key = KEYS[4] .. id
if not holds_lease(redis.call('HGET', job_key, 'lease'), ARGV[2]) then return false end
local f, why = read_job(job_key, {'gate', 'att', 'st', 'wid', 'hist'})
redis.call('ZREM', KEYS[1], id)
if why then
  -- Its gates cannot be left (the holders' sets forget it once it is not active).
  dead_letter(D, job_key, id, now, why, ARGV[3] .. '\n' .. ARGV[4])
  event_append(E, id, 'dead')
  return 'dead'
end
gate_leave(G, f.gate, id)
if delay == -2 then
  release_unique(KEYS[5], job_key, id)
  redis.call('HSET', job_key, 'err', ARGV[3], 'tb', ARGV[4])
  redis.call('HDEL', job_key, 'cxl')
  finish(job_key, KEYS[12], id, 'cancelled', now, tonumber(ARGV[6]), KEYS[13], mem)
  redis.call('HINCRBY', KEYS[6], 'cancelled', 1)
  event_append(E, id, 'cancelled')
  return 'cancelled'
end
if delay >= 0 then
  history_append(job_key, f, attempt_entry(f, 'retrying', now, ARGV[3], ARGV[4], mem))
  redis.call('HDEL', job_key, 'lease')
  redis.call('HSET', job_key, 'err', ARGV[3], 'tb', ARGV[4], 'fin', now)
  redis.call('HSET', job_key, 'status', 'retrying', 'run', now + delay)
  redis.call('ZADD', KEYS[2], now + delay, id)
  redis.call('HINCRBY', KEYS[6], 'retried', 1)
  event_append(E, id, 'retrying')
  wake(KEYS[7])
  note_failure(KEYS[13], job_key, id, now, failure, false)
  return 'retrying'
end
dead_letter(D, job_key, id, now, ARGV[3], ARGV[4])
note_failure(KEYS[13], job_key, id, now, failure, true)
if mem then redis.call('HSET', job_key, 'mem', mem) end
event_append(E, id, 'dead')
return 'dead'
