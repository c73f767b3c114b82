-- queue_resume: end a queue's pause and ring its doorbell, so a waiting worker
-- claims at once (each claim rings again while jobs remain: the others follow).
-- KEYS[1] paused  HASH present while the queue is paused
-- KEYS[2] wake    doorbell LIST
-- ARGV[1] unused ('' ; kept so every call has the same shape)
-- Returns 1 when the queue was paused (now resumed), 0 when it was not.
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
wake(KEYS[2])
return 1
