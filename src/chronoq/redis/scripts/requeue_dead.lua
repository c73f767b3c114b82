-- requeue_dead: move dead-lettered jobs back to the ready queue with fresh attempts.
-- KEYS[1] dead        ZSET of dead-lettered ids; score = time of death ms
-- KEYS[2] ready       ZSET of ready ids; score = priority, then FIFO
-- KEYS[3] seq         FIFO counter of jobs naming no account
-- KEYS[4] wake        doorbell LIST
-- KEYS[5] job_prefix  job HASH key prefix (+ id)
-- KEYS[6] fair        fair-sharing HASH ('vt', 'a:<account>')
-- ARGV[1] '*' for every dead job (up to ARGV[2]), or a job id
-- ARGV[2] max jobs per call
-- Returns the number of jobs requeued.

-- A record the claim would dead-letter again stays dead; its error says why.
local CHECKED = {'status', 'task', 'args', 'maxr', 'dl', 'gate', 'lres', 'prio'}
local function problem(job_key)
  local f, why = read_job(job_key, CHECKED)
  return why or (not f.task and missing_field('task')) or (not f.args and missing_field('args'))
end

local function requeue(id)
  local job_key = KEYS[5] .. id
  if not redis.call('ZSCORE', KEYS[1], id) then return false end
  if redis.call('EXISTS', job_key) == 0 then
    redis.call('ZREM', KEYS[1], id)
    return false
  end
  local why = problem(job_key)
  if why then
    redis.call('HSET', job_key, 'err', why)
    return false
  end
  redis.call('ZREM', KEYS[1], id)
  redis.call('HSET', job_key, 'att', 0)
  redis.call('HDEL', job_key, 'fin', 'st', 'wid')
  push_ready(KEYS[2], KEYS[3], KEYS[6], job_key, id)  -- its fields are checked above
  return true
end

local max = tonumber(ARGV[2])
local moved = 0
if ARGV[1] ~= '*' then
  if requeue(ARGV[1]) then moved = 1 end
else
  -- Jobs left dead stay at the front: look past them, up to 10 windows' worth.
  local kept, looked = 0, 0
  while moved < max and looked < 10 * max do
    local ids = redis.call('ZRANGE', KEYS[1], kept, kept + max - moved - 1)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if requeue(id) then moved = moved + 1 else kept = kept + 1 end
    end
    looked = looked + #ids
  end
end
if moved > 0 then wake(KEYS[4]) end
return moved
