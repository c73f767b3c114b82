-- requeue_dead: move dead-lettered jobs back to the ready queue, keeping their
-- attempt history: the next run is numbered after the last, and the job gets its
-- retries again (attempts before the requeue are kept in 'rbase').
-- KEYS[1] dead        ZSET of dead-lettered ids; score = time of death ms
-- KEYS[2] ready       ZSET of ready ids; score = priority, then FIFO
-- KEYS[3] seq         FIFO counter of jobs naming no account
-- KEYS[4] wake        doorbell LIST
-- KEYS[5] job_prefix  job HASH key prefix (+ id)
-- KEYS[6] fair        fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[7] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[8] events      STREAM of state changes (capped)
-- ARGV[1] '*' for every dead job (up to ARGV[2]), or a job id
-- ARGV[2] max jobs per call
-- ARGV[3] only jobs of this task ('' for any)
-- ARGV[4] only jobs whose error contains this text, ignoring ASCII case ('' for any)
-- ARGV[5] only jobs dead since: '' (any time), '@<epoch ms>', or '-<ms>' before now
-- ARGV[6] dead jobs to skip at the front: the next offset a previous call returned
-- ARGV[7] event stream cap (MAXLEN ~; 0: no events)
-- ARGV[8] new job arguments (encoded call JSON) for the one job ARGV[1] names: the
--   payload an operator edited before requeueing it ('' keeps the job's own)
-- Returns {number of jobs requeued, offset for the next call (-1: no more to look at)}.
-- The dead attempt (as the record held it) and a 'requeued' mark are appended to
-- the job's history ('hist') before the record's run fields are cleared.

local E = events_of(KEYS[8], ARGV[7])
local D = {dead = KEYS[1], ready = KEYS[2], seq = KEYS[3], fair = KEYS[6], job_prefix = KEYS[5],
  ix = KEYS[7], E = E}

local task, needle = ARGV[3], string.lower(ARGV[4])
local edited = ARGV[1] ~= '*' and ARGV[8] or ''
local function wanted(f)
  if task ~= '' and f.task ~= task then return false end
  return needle == '' or string.find(string.lower(f.err or ''), needle, 1, true) ~= nil
end
local OPTS = {wanted = wanted, args = edited ~= '' and edited or nil}

-- Returns true (requeued), false (kept dead: not selected, or a bad record), or nil
-- (no longer a dead job: gone from the index). A record the claim would dead-letter
-- again stays dead; its error says why (requeue_dead_job in _lib.lua).
local function requeue(id)
  local outcome = requeue_dead_job(D, id, OPTS)
  if outcome == nil then return nil end
  return outcome == 'requeued'
end

local now = now_ms()
local since = '-inf'
local mode, ms = string.sub(ARGV[5], 1, 1), tonumber(string.sub(ARGV[5], 2))
if mode == '@' and ms then since = ms elseif mode == '-' and ms then since = now - ms end

local max = tonumber(ARGV[2])
local moved = 0
if ARGV[1] ~= '*' then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
  if score and (since == '-inf' or tonumber(score) >= since) and requeue(ARGV[1]) then
    moved = 1
  end
  if moved > 0 then wake(KEYS[4]) end
  return {moved, -1}
end
-- Jobs left dead stay in the index: look past them, up to 10 windows' worth a call.
local kept, looked = tonumber(ARGV[6]) or 0, 0
local next_offset = -1
while moved < max do
  if looked >= 10 * max then
    next_offset = kept
    break
  end
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'LIMIT', kept, max - moved)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local done = requeue(id)
    if done then moved = moved + 1 elseif done == false then kept = kept + 1 end
  end
  looked = looked + #ids
end
if moved >= max then next_offset = kept end
if moved > 0 then wake(KEYS[4]) end
return {moved, next_offset}
