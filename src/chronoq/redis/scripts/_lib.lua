-- Shared helpers, prepended to every script by chronoq.redis.scripts.
-- Defines locals only; touches no key by itself.

-- Server time in milliseconds: every worker agrees on one clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Ready-queue score: higher priority first, FIFO among equals.
-- priority is within -1000..1000, seq below 2^42: the score stays an exact double.
local SEQ_SPAN = 4398046511104  -- 2^42
local function ready_score(priority, seq)
  return (1000 - priority) * SEQ_SPAN + (seq % SEQ_SPAN)
end

-- Make job `id` ready: give it a place in the FIFO order of its priority.
local function push_ready(ready_key, seq_key, job_key, id)
  local prio = tonumber(redis.call('HGET', job_key, 'prio') or '0')
  local seq = redis.call('INCR', seq_key)
  redis.call('ZADD', ready_key, ready_score(prio, seq), id)
  redis.call('HSET', job_key, 'status', 'queued')
end

-- Ring the doorbell once: idle workers block on this list.
local function wake(wake_key)
  if redis.call('LLEN', wake_key) == 0 then
    redis.call('RPUSH', wake_key, '1')
  end
end

-- Free a job's unique key, but only if it still points at this job.
local function release_unique(unique_prefix, job_key, id)
  local ukey = redis.call('HGET', job_key, 'uniq')
  if ukey and redis.call('GET', unique_prefix .. ukey) == id then
    redis.call('DEL', unique_prefix .. ukey)
  end
end

-- Record a finished job: time, index for listing, record TTL.
local function finish(job_key, done_key, id, status, now, retention_ms)
  redis.call('HSET', job_key, 'status', status, 'fin', now)
  redis.call('HDEL', job_key, 'lease')
  redis.call('ZADD', done_key, now, id)
  redis.call('PEXPIRE', job_key, retention_ms)
end

-- Idle registrations older than this are ignored: a live idle worker renews its
-- registration at least every 2 s (WorkerOptions.idle_wait is capped at 2 s).
local IDLE_STALE_MS = 3000

-- The job entry handed to a worker: what it needs to start without another read.
local function job_entry(id, task, args, att, maxr, opts, token)
  return cjson.encode({id, task, args, att, maxr or false, opts or false, token})
end

-- Return a leased job to the front of its priority in the ready queue, without
-- counting the attempt (graceful shutdown: the run never completed).
local function hand_back(active_key, ready_key, job_key, id)
  redis.call('ZREM', active_key, id)
  local prio = tonumber(redis.call('HGET', job_key, 'prio') or '0')
  redis.call('ZADD', ready_key, ready_score(prio, 0), id)
  redis.call('HINCRBY', job_key, 'att', -1)
  redis.call('HDEL', job_key, 'lease', 'st', 'wid')
  redis.call('HSET', job_key, 'status', 'queued')
end
