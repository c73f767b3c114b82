-- complete: record successful runs, checking each lease token.
-- KEYS[1]  active         ZSET of leased ids; score = lease expiry ms
-- KEYS[2]  done           ZSET of finished ids; score = finish ms
-- KEYS[3]  job_prefix     job HASH key prefix (+ id)
-- KEYS[4]  result_prefix  result STRING key prefix (+ id)
-- KEYS[5]  unique_prefix  unique key prefix (+ unique key, or 'idem:' + idempotency key)
-- KEYS[6]  stats          HASH of lifetime counters
-- KEYS[7]  ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[8]  wake           doorbell LIST
-- KEYS[9]  gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[10] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[11] blocked        ZSET of parked ids; score = parked ms
-- KEYS[12] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[13] events         STREAM of state changes (capped)
-- ARGV[1] retention ms of succeeded records
-- ARGV[2] result TTL ms (0: keep no result)
-- ARGV[3] number of jobs
-- ARGV[4] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[5] the worker's RSS in bytes when the runs ended ('': unknown)
-- ARGV[6..] per job, 3 values: id, lease token, result JSON ('': none)
-- Returns the ids whose lease was no longer theirs (their outcome was discarded).
-- Index entries older than the retention are trimmed (counted in stats 'trimmed').
-- One HMGET per job reads all it needs; the index writes (active, done, search
-- indexes) go out once per key at the end (batch_flush): nothing here reads them;
-- so do the 'succeeded' events (one entry for the batch, events_flush).
local now = now_ms()
local now_text = int_text(now)
local G = {gate = KEYS[9], parked = KEYS[10], blocked = KEYS[11], active = KEYS[1],
  ready = KEYS[7], wake = KEYS[8], job = KEYS[3]}
local retention, result_ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local retention_text, ttl_text = int_text(retention), int_text(result_ttl)
local E = events_of(KEYS[13], ARGV[4], true)
local B = batch_new()
B.mem = whole_text(ARGV[5])  -- one RSS for the batch: checked once
-- Read per job with one HMGET and taken apart here (only 'gate' needs a check):
-- read_job's general loop over the names cost 2 % of a job's Redis instructions.
local FIELDS = {'lease', 'gate', 'uniq', 'task', 'acct'}
local stale = {}
local ok = 0
for i = 6, 5 + 3 * tonumber(ARGV[3]), 3 do
  local id, token, result = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local job_key = KEYS[3] .. id
  local raw = redis.call('HMGET', job_key, unpack(FIELDS))
  if holds_lease(raw[1], token) then
    local f, why = {lease = raw[1], gate = false, uniq = raw[3] or false, task = raw[4],
      acct = raw[5] or false}, nil
    if raw[2] then
      local gates, problem = check_gates('gate', raw[2])
      if gates == nil then why = problem else f.gate = gates end
    end
    batch_add(B, 'ZREM', KEYS[1], id)
    release_unique(KEYS[5], job_key, id, f.uniq)
    if why then
      -- The run succeeded: keep its success. Its gates cannot be left (the holders'
      -- sets forget it once it is not active; recover wakes jobs parked behind them).
      redis.call('HSET', job_key, 'err', why)
    else
      gate_leave(G, f.gate, id)
    end
    finish(job_key, KEYS[2], id, 'succeeded', now_text, retention_text, KEYS[12], nil, B, f)
    event_append(E, id, 'succeeded')
    if result ~= '' and result_ttl > 0 then
      redis.call('SET', KEYS[4] .. id, result, 'PX', ttl_text)
    end
    ok = ok + 1
  else
    stale[#stale + 1] = id
  end
end
batch_flush(B)
events_flush(E)
if ok > 0 then redis.call('HINCRBY', KEYS[6], 'succeeded', ok) end
local trimmed = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - retention)
if trimmed > 0 then redis.call('HINCRBY', KEYS[6], 'trimmed', trimmed) end
return stale
