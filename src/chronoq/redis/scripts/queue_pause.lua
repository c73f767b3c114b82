-- queue_pause: pause a queue: workers claim none of its jobs until queue_resume.
-- Enqueues still queue jobs and running jobs finish. The idle registrations are
-- dropped, so no enqueue hands a job straight to a worker meanwhile.
-- KEYS[1] paused       HASH: reason, since (server ms), by
-- KEYS[2] idle         ZSET of idle workers; score = registration ms
-- KEYS[3] idle_leases  HASH worker id -> 'token|lease ms|slots'
-- ARGV[1] reason ('' for none)
-- ARGV[2] who pauses it ('' when unknown)
-- Returns {1, since ms} when this call paused the queue, or {0, since ms} when it
-- was paused already (its reason and author are replaced, its since kept).
local now = now_ms()
local since = tonumber(redis.call('HGET', KEYS[1], 'since') or '')
local fresh = 0
if not since then
  since, fresh = now, 1
end
redis.call('HSET', KEYS[1], 'reason', ARGV[1], 'since', since, 'by', ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
return {fresh, since}
