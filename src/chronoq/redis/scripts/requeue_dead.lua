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
local ids
if ARGV[1] == '*' then
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
else
  ids = {ARGV[1]}
end
local moved = 0
for _, id in ipairs(ids) do
  local job_key = KEYS[5] .. id
  if redis.call('ZREM', KEYS[1], id) == 1 and redis.call('EXISTS', job_key) == 1 then
    redis.call('HSET', job_key, 'att', 0)
    redis.call('HDEL', job_key, 'fin', 'st', 'wid')
    push_ready(KEYS[2], KEYS[3], KEYS[6], job_key, id)
    moved = moved + 1
  end
end
if moved > 0 then wake(KEYS[4]) end
return moved
