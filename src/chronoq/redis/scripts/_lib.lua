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

-- Ring the doorbell once: idle workers block on this list.
local function wake(wake_key)
  if redis.call('LLEN', wake_key) == 0 then
    redis.call('RPUSH', wake_key, '1')
  end
end

-- Fair sharing (start-time fair queuing): a job's FIFO number is one past the larger
-- of its account's last number and the queue's virtual time 'vt' (the number of the
-- latest claimed job). An account with 10,000 waiting jobs holds numbers vt+1 ..
-- vt+10,000; another account's single job gets vt+1 and waits behind at most one
-- job of each other account. Jobs naming no account count as one account whose
-- last number is the seq key (for them alone this is plain FIFO).
local function fair_seq(seq_key, fair_key, acct)
  local vt = tonumber(redis.call('HGET', fair_key, 'vt') or '0')
  if acct then
    local s = math.max(tonumber(redis.call('HGET', fair_key, 'a:' .. acct) or '0'), vt) + 1
    redis.call('HSET', fair_key, 'a:' .. acct, s)
    return s
  end
  local s = math.max(tonumber(redis.call('GET', seq_key) or '0'), vt) + 1
  redis.call('SET', seq_key, s)
  return s
end

-- Make job `id` ready: give it a place in the FIFO order of its priority.
local function push_ready(ready_key, seq_key, fair_key, job_key, id)
  local f = redis.call('HMGET', job_key, 'prio', 'acct')
  local seq = fair_seq(seq_key, fair_key, f[2])
  redis.call('ZADD', ready_key, ready_score(tonumber(f[1] or '0'), seq), id)
  redis.call('HSET', job_key, 'status', 'queued')
end

-- Make a job ready ahead of its priority's FIFO order (hand-backs, unparked jobs).
local function push_front(ready_key, job_key, id)
  local prio = tonumber(redis.call('HGET', job_key, 'prio') or '0')
  redis.call('ZADD', ready_key, ready_score(prio, 0), id)
  redis.call('HSET', job_key, 'status', 'queued')
end

-- Gates: a job may name keys (a lock key is a gate of limit 1) of which at most
-- `limit` running jobs may hold each. G is a table of the queue's gate keys:
-- {gate = holder SET prefix, parked = parked LIST prefix, blocked = ZSET,
--  active = ZSET, ready = ZSET, wake = LIST, job = job key prefix}.

-- Running holders of a gate. A holder no longer in the active set (its record
-- was lost) is dropped; one whose lease merely expired still counts until
-- recovery frees it, since its worker may yet renew.
local function gate_holders(G, key)
  local n = 0
  for _, hid in ipairs(redis.call('SMEMBERS', G.gate .. key)) do
    if redis.call('ZSCORE', G.active, hid) then n = n + 1
    else redis.call('SREM', G.gate .. key, hid) end
  end
  return n
end

-- Enter every gate of a job, or none: returns the first full gate ({key, limit,
-- policy}), or nil after taking a place in each.
local function gate_enter(G, gates, id)
  for _, g in ipairs(gates) do
    if gate_holders(G, g[1]) >= tonumber(g[2]) then return g end
  end
  for _, g in ipairs(gates) do redis.call('SADD', G.gate .. g[1], id) end
  return nil
end

-- Park a job behind a full gate: it waits without spending an attempt, and keeps
-- its FIFO number `seq` so it returns to its place in line.
local function park(G, job_key, id, key, now, seq)
  redis.call('RPUSH', G.parked .. key, id)
  redis.call('ZADD', G.blocked, now, id)
  redis.call('HSET', job_key, 'status', 'blocked', 'pseq', seq)
  redis.call('HDEL', job_key, 'lease', 'wid')
end

-- Return a parked job to the ready queue at its old place in line.
local function push_parked(G, job_key, id)
  local f = redis.call('HMGET', job_key, 'prio', 'pseq')
  redis.call('ZADD', G.ready, ready_score(tonumber(f[1] or '0'), tonumber(f[2] or '0')), id)
  redis.call('HSET', job_key, 'status', 'queued')
  redis.call('HDEL', job_key, 'pseq')
end

-- Move up to `count` parked jobs of `key` back to the front of the ready queue.
local function unpark(G, key, count)
  local woken = 0
  while woken < count do
    local pid = redis.call('LPOP', G.parked .. key)
    if not pid then break end
    if redis.call('ZREM', G.blocked, pid) == 1 then
      push_parked(G, G.job .. pid, pid)
      woken = woken + 1
    end
  end
  return woken
end

-- A running job leaves its gates; parked jobs take the freed places.
local function gate_leave(G, job_key, id)
  local raw = redis.call('HGET', job_key, 'gate')
  if not raw then return 0 end
  local woken = 0
  for _, g in ipairs(cjson.decode(raw)) do
    if redis.call('SREM', G.gate .. g[1], id) == 1 then
      woken = woken + unpark(G, g[1], tonumber(g[2]) - redis.call('SCARD', G.gate .. g[1]))
    end
  end
  if woken > 0 then wake(G.wake) end
  return woken
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
  push_front(ready_key, job_key, id)
  redis.call('HINCRBY', job_key, 'att', -1)
  redis.call('HDEL', job_key, 'lease', 'st', 'wid')
end
