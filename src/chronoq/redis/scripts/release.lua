-- release: hand leased jobs back to their queue (graceful shutdown).
-- The attempt is not counted and the job goes to the front of its priority.
-- KEYS[1] active         ZSET of leased ids; score = lease expiry ms
-- KEYS[2] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[3] wake           doorbell LIST
-- KEYS[4] job_prefix     job HASH key prefix (+ id)
-- KEYS[5] gate_prefix    gate holders SET key prefix (+ gate key)
-- KEYS[6] parked_prefix  parked jobs LIST key prefix (+ gate key)
-- KEYS[7] blocked        ZSET of parked ids; score = parked ms
-- ARGV[1] number of jobs
-- ARGV[2..] per job, 2 values: id, lease token
-- Returns the number of jobs handed back.
local G = {gate = KEYS[5], parked = KEYS[6], blocked = KEYS[7], active = KEYS[1],
  ready = KEYS[2], wake = KEYS[3], job = KEYS[4]}
local released = 0
for i = 2, 1 + 2 * tonumber(ARGV[1]), 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local job_key = KEYS[4] .. id
  if redis.call('HGET', job_key, 'lease') == token then
    -- A job whose record is bad stays leased: recover dead-letters it with the reason.
    local f, why = read_job(job_key, HAND_BACK_FIELDS)
    if not why then
      hand_back(KEYS[1], KEYS[2], job_key, id, f)
      gate_leave(G, f.gate, id)
      released = released + 1
    end
  end
end
if released > 0 then wake(KEYS[3]) end
return released
