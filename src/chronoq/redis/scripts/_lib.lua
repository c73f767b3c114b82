-- Shared helpers, prepended to every script by chronoq.redis.scripts.
-- Defines locals only; touches no key by itself.

-- Server time in milliseconds: every worker agrees on one clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The server's time in ms with its fraction (µs): a delay is counted from it, so a
-- delayed job falls due at the nearest ms to the moment asked for, not up to 1 ms early.
local function now_ms_exact()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- now_ms() as the text a record stores, made from TIME's two text replies without
-- converting them to numbers and back (tonumber and string.format cost more than the
-- TIME call itself; enqueue_plain.lua, the commonest script, needs only the text).
local function ms_text(seconds, micros)  -- TIME's replies: '1764000000', '5123'
  return seconds .. string.sub(string.rep('0', 6 - #micros) .. micros, 1, 3)
end

local function now_ms_text()
  local t = redis.call('TIME')
  return ms_text(t[1], t[2])
end

-- Whole numbers sent as text. The server prints a number argument of redis.call
-- with '%.17g', exact but a few thousand instructions each (a tenth of a job's Redis
-- CPU, measured: bench/redis_cost); a value sent per job (now, a lease end, a TTL,
-- the stream cap) is converted once per script, with '%d'.
local EXACT_INT = 9007199254740992  -- 2^53: whole doubles up to here print exactly
-- Small whole numbers (attempts, counts) are printed once and kept: a table lookup
-- costs a tenth of a string.format (the claim prints one per job). Filled as they
-- come: the standard libraries are not there while the library loads.
local SMALL_INT_MAX = 1024
local small_int_text = {}
local function int_text(n)
  local small = small_int_text[n]
  if small then return small end
  if n >= -EXACT_INT and n <= EXACT_INT and n == math.floor(n) then
    local text = string.format('%d', n)
    if n >= 0 and n <= SMALL_INT_MAX then small_int_text[n] = text end
    return text
  end
  return n  -- not a whole number within range: sent as it is
end

-- Writes a batch script collects and sends once per key at its end: one ZADD or ZREM
-- of every member instead of one per job (claim, complete). Only for keys the script
-- does not read before the flush. B = batch_new(); batch_add(B, 'ZADD', key, score,
-- member); batch_flush(B). `flag` (batch_list): an option after the key, e.g. 'NX'.
local BATCH_ARGS = 1000  -- arguments of one command sent (even: ZADD takes pairs)

local function batch_new()
  return {lists = {}, noted = {}, index_keys = {}}
end

local function batch_list(B, command, key, flag)
  local kind = flag and (command .. ' ' .. flag) or command
  local by_key = B.lists[kind]
  if not by_key then
    by_key = {}
    B.lists[kind] = by_key
  end
  local list = by_key[key]
  if not list then
    list = flag and {command, key, flag} or {command, key}
    list.first = flag and 4 or 3  -- where the members start
    by_key[key] = list
    B[#B + 1] = list
  end
  return list
end

local function batch_add(B, command, key, a, b)
  local list = batch_list(B, command, key)
  local n = #list
  list[n + 1] = a
  if b ~= nil then list[n + 2] = b end
end

local function batch_flush(B)
  for _, list in ipairs(B) do
    local first = list.first
    for i = first, #list, BATCH_ARGS do
      local last = math.min(i + BATCH_ARGS - 1, #list)
      if first == 4 then
        redis.call(list[1], list[2], list[3], unpack(list, i, last))
      else
        redis.call(list[1], list[2], unpack(list, i, last))
      end
    end
  end
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

-- Job records. A script checks every job field it reads before it writes anything:
-- Redis keeps the writes of a script that fails half-way, which would strand the job
-- (out of one index, not yet in the next). A bad record goes to the dead-letter queue
-- with its reason (dead_letter); a script holding no dead ZSET leaves the job where
-- it is, and claim or recover (which check the same fields) dead-letter it.

-- What push_ready and push_parked return for an id whose record is gone entirely.
local RECORD_GONE = 'record gone'
local SHOWN_VALUE_MAX = 60

local function bad_field(name, why, value)
  local shown = tostring(value)
  if #shown > SHOWN_VALUE_MAX then shown = string.sub(shown, 1, SHOWN_VALUE_MAX) .. '...' end
  return "bad job record: field '" .. name .. "' " .. why .. " ('" .. shown .. "')"
end

local function missing_field(name)
  return "bad job record: field '" .. name .. "' is missing"
end

local function finite(n)
  return type(n) == 'number' and n == n and n ~= math.huge and n ~= -math.huge
end

-- Whole numbers are digits only: Lua's tonumber also takes '1e3', '0x10', ' 5' and
-- 'nan', Python's int() does not. At most 15 characters: exact as a double.
local function check_int(name, value)
  if string.match(value, '^%-?%d+$') then
    if #value <= 15 then return tonumber(value) end
    return nil, bad_field(name, 'is out of range', value)
  end
  if finite(tonumber(value)) then return nil, bad_field(name, 'is not a whole number', value) end
  return nil, bad_field(name, 'is not a number', value)
end

local function check_priority(name, value)
  local n, why = check_int(name, value)
  if n and (n < -1000 or n > 1000) then
    return nil, bad_field(name, 'is not within -1000..1000', value)
  end
  return n, why
end

local function decode_json(name, value)
  local ok, decoded = pcall(cjson.decode, value)  -- cjson raises on nesting deeper than 1000
  if not ok then return nil, bad_field(name, 'is not JSON', value) end
  return decoded
end

-- Gates: a JSON list of [key, limit >= 1, 'wait' | 'skip' | 'fail'].
local GATE_POLICIES = {wait = true, skip = true, fail = true}
local GATE_SHAPE = 'is not a list of [key, limit, policy]'
local function check_gates(name, value)
  local gates, why = decode_json(name, value)
  if gates == nil then return nil, why end
  if type(gates) ~= 'table' then return nil, bad_field(name, GATE_SHAPE, value) end
  local n = 0
  for _ in pairs(gates) do n = n + 1 end
  if n ~= #gates then return nil, bad_field(name, GATE_SHAPE, value) end
  for _, g in ipairs(gates) do
    if type(g) ~= 'table' or type(g[1]) ~= 'string' or g[1] == '' or not finite(g[2])
      or g[2] < 1 or g[2] ~= math.floor(g[2]) or not GATE_POLICIES[g[3]] then
      return nil, bad_field(name, GATE_SHAPE, value)
    end
  end
  return gates
end

-- Limit reservations: a JSON object {limit name: booked ms}. Kept as text (the worker
-- decodes it), checked so that the worker never meets a bad one.
local function check_reservations(name, value)
  local res, why = decode_json(name, value)
  if res == nil then return nil, why end
  local shape = 'is not an object of numbers'
  if type(res) ~= 'table' then return nil, bad_field(name, shape, value) end
  for k, ms in pairs(res) do
    if type(k) ~= 'string' or not finite(ms) then return nil, bad_field(name, shape, value) end
  end
  return value
end

-- How each field a script relies on is checked; the others are free text.
local FIELD_CHECKS = {att = check_int, maxr = check_int, prio = check_priority, dl = check_int,
  pseq = check_int, gate = check_gates, lres = check_reservations, rbase = check_int}

-- Fields a job goes through enqueue.lua for (enqueue_plain.lua refuses them).
local PLAIN_ONLY_FIELDS = {uniq = true, idem = true, gate = true, acct = true}
-- Fields the enqueue itself writes (and a hand-off's start): never an extra field.
local WRITTEN_FIELDS = {task = true, args = true, status = true, enq = true, att = true,
  st = true, lease = true, wid = true, prio = true}

-- Read job fields, each checked. Returns a table name -> value (a number for numeric
-- fields, the decoded list for 'gate', false when absent) and nil; or that table (bad
-- fields as read) and the reason naming the first bad field.
local function read_job(job_key, names)
  local raw = redis.call('HMGET', job_key, unpack(names))
  local f, bad = {}, nil
  for i = 1, #names do
    local name, value = names[i], raw[i]
    f[name] = value
    local check = value and FIELD_CHECKS[name]
    if check then
      local checked, why = check(name, value)
      if checked == nil then bad = bad or why else f[name] = checked end
    end
  end
  return f, bad
end

-- The same from one HGETALL, for a reader of many names (the claim: 15): a plain
-- record has about 5 fields, and one pass over them costs a third of an HMGET that
-- looks each name up (a record is a listpack, searched from its start per name).
-- `wanted`: name_set(names), made once per script. Absent fields are nil here (not
-- false): the table gets only the fields the record has.
local function name_set(names)
  local set = {}
  for _, name in ipairs(names) do set[name] = true end
  return set
end

local function read_job_all(job_key, names, wanted)
  local raw = redis.call('HGETALL', job_key)
  local f, bad = {}, nil
  for i = 1, #raw, 2 do
    local name, value = raw[i], raw[i + 1]
    if wanted[name] then
      f[name] = value
      local check = FIELD_CHECKS[name]
      if check then
        local checked, why = check(name, value)
        if checked == nil then
          bad = bad or {}
          bad[name] = why
        else
          f[name] = checked
        end
      end
    end
  end
  if not bad then return f, nil end
  for i = 1, #names do  -- the first bad one in `names` order, as read_job says
    if bad[names[i]] then return f, bad[names[i]] end
  end
end

-- Whether the record is gone entirely, given fields read with read_job (every record
-- has a 'status'; EXISTS is asked only when it is missing).
local function record_gone(f, job_key)
  return not f.status and redis.call('EXISTS', job_key) == 0
end

-- Free a job's unique key, but only if it still points at this job. `ukey`: its
-- 'uniq' field when the caller read it already (false: none).
local function release_unique(unique_prefix, job_key, id, ukey)
  if ukey == nil then ukey = redis.call('HGET', job_key, 'uniq') end
  if ukey and redis.call('GET', unique_prefix .. ukey) == id then
    redis.call('DEL', unique_prefix .. ukey)
  end
end

-- Search indexes (keys.py QueueKeys.index_prefix names them): sorted sets by time
-- per task and account, written once per job when it finishes or dies (never for
-- intermediate states), so a filtered search walks the smallest one. A job's state
-- has its own index already (done, done:<status>, dead: QueueKeys.finished).
-- Dead ones ('d:') are kept exact: requeue, purge and trim take their entries out.
-- Finished ones ('f:') lose a trimmed job's entries (unindex_finished), and entries
-- older than the longest finished retention by time (trim_indexes): a record that
-- expired on its own is gone before the trimmer can read its task and account.
local INDEX_FIELDS = {'task', 'acct', 'fp'}

-- One finished index entry ('f:t:' or 'f:a:' .. name); the key joins the trimmer's
-- list of f: keys (NX: once). With a batch B, both are sent at its flush, the list's
-- once per key, and each key's name is made once per batch.
local function index_add_finished(ix, kind, name, now, id, B)
  if not B then
    local suffix = kind .. name
    redis.call('ZADD', ix .. suffix, now, id)
    redis.call('ZADD', ix .. 'f:keys', 'NX', now, suffix)
    return
  end
  local names = B.index_keys[kind]
  if not names then
    names = {}
    B.index_keys[kind] = names
  end
  local key = names[name]
  if not key then
    local suffix = kind .. name
    key = ix .. suffix
    names[name] = key
    local list = batch_list(B, 'ZADD', ix .. 'f:keys', 'NX')
    list[#list + 1], list[#list + 2] = now, suffix
  end
  batch_add(B, 'ZADD', key, now, id)
end

-- A job just finished (succeeded, cancelled, expired, skipped) at `now`. `known`:
-- fields the caller read with its task and account (else they are read here).
local function index_finished(ix, job_key, id, now, B, known)
  local task, acct
  if known and known.task ~= nil then
    task, acct = known.task, known.acct
  else
    local f = redis.call('HMGET', job_key, 'task', 'acct')
    task, acct = f[1], f[2]
  end
  if task then index_add_finished(ix, 'f:t:', task, now, id, B) end
  if acct then index_add_finished(ix, 'f:a:', acct, now, id, B) end
end

-- A finished job is forgotten (trim.lua): out of its search indexes. `f`: its task
-- and account, as HMGET read them before the script wrote anything.
local function unindex_finished(ix, f, id)
  if f[1] then redis.call('ZREM', ix .. 'f:t:' .. f[1], id) end
  if f[2] then redis.call('ZREM', ix .. 'f:a:' .. f[2], id) end
end

-- A job just died at `now` (the 'dead' ZSET is its status index).
local function index_dead(ix, job_key, id, now)
  local f = redis.call('HMGET', job_key, 'task', 'acct')
  if f[1] then redis.call('ZADD', ix .. 'd:t:' .. f[1], now, id) end
  if f[2] then redis.call('ZADD', ix .. 'd:a:' .. f[2], now, id) end
end

-- A dead job leaves the dead-letter queue (requeued, purged or trimmed): out of its
-- indexes. `f`: its task, account and fingerprint (INDEX_FIELDS) when already read.
local function unindex_dead(ix, job_key, id, f)
  f = f or redis.call('HMGET', job_key, unpack(INDEX_FIELDS))
  if f[1] then redis.call('ZREM', ix .. 'd:t:' .. f[1], id) end
  if f[2] then redis.call('ZREM', ix .. 'd:a:' .. f[2], id) end
  if f[3] then redis.call('ZREM', ix .. 'd:g:' .. f[3], id) end
end

-- Failure groups. The worker sends a failed attempt's group as one argument:
-- '<16 hex fingerprint>\t<class>\t<title>' ('' when it has none). Checked before
-- the script writes anything: returns {fp, cls, title}, false ('') or nil and why.
local ERROR_CLASSES = {network = true, timeout = true, rate_limited = true, parse = true,
  resource = true, application = true}
local function parse_failure(value)
  if value == nil or value == '' then return false end
  local fp, cls, title = string.match(value, '^(%x+)\t([a-z_]+)\t(.*)$')
  if not fp or #fp ~= 16 or not ERROR_CLASSES[cls] then
    return nil, "failure group must be '<16 hex digits>\t<class>\t<title>', got '"
      .. string.sub(value, 1, SHOWN_VALUE_MAX) .. "'"
  end
  return {fp, cls, title}
end

-- Record a failed attempt in its group (`failure` from parse_failure, or false) and
-- on the job; `dead`: the job just died, so it joins the group's dead index.
local function note_failure(ix, job_key, id, now, failure, dead)
  if not failure then return end
  local fp, group = failure[1], ix .. 'g:' .. failure[1]
  redis.call('HSET', job_key, 'fp', fp, 'ecls', failure[2])
  local acct = redis.call('HGET', job_key, 'acct')
  if redis.call('HSETNX', group, 'first', now) == 1 then
    redis.call('HSET', group, 'task', redis.call('HGET', job_key, 'task') or '', 'cls', failure[2])
  end
  redis.call('HSET', group, 'last', now, 'title', failure[3])
  redis.call('HINCRBY', group, 'count', 1)
  redis.call('ZADD', ix .. 'groups', now, fp)
  if acct then redis.call('ZADD', group .. ':a', now, acct) end
  if dead then redis.call('ZADD', ix .. 'd:g:' .. fp, now, id) end
end

-- Trim the finished indexes by time (trim.lua): up to `batch` entries older than
-- `cutoff` from each of up to 100 keys due. Returns true when more may be due.
local function trim_indexes(ix, cutoff, batch)
  local due = redis.call('ZRANGEBYSCORE', ix .. 'f:keys', '-inf', cutoff, 'LIMIT', 0, 100)
  local more = #due == 100
  for _, suffix in ipairs(due) do
    local key = ix .. suffix
    local old = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff, 'LIMIT', 0, batch)
    if #old > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #old - 1) end
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #first == 0 then
      redis.call('ZREM', ix .. 'f:keys', suffix)
    else
      redis.call('ZADD', ix .. 'f:keys', 'XX', first[2], suffix)
      if #old == batch then more = true end
    end
  end
  return more
end

-- End a job in the dead-letter queue with its reason (the caller took it out of the
-- index it was in). D: {dead = ZSET, stats = HASH, unique = unique key prefix,
-- ix = index prefix}. Its failure group, if any, is the caller's (note_failure).
local function dead_letter(D, job_key, id, now, why, tb)
  release_unique(D.unique, job_key, id)
  redis.call('HSET', job_key, 'status', 'dead', 'fin', now, 'err', why, 'tb', tb or '')
  redis.call('HDEL', job_key, 'lease', 'fp', 'ecls', 'rsv', 'rnote')
  redis.call('ZADD', D.dead, now, id)
  redis.call('HINCRBY', D.stats, 'dead', 1)
  if D.ix then index_dead(D.ix, job_key, id, now) end
end

-- Whether the record's lease (its 'lease' field as read) is the caller's `token`. A
-- finished record keeps the field, emptied (finish), and '' is no one's token.
local function holds_lease(lease, token)
  return lease == token and token ~= ''
end

-- Lease a job to a worker: it runs from `now` as attempt `att`, until `lease_until`
-- (numbers or their int_text). With a batch B, its active entry is sent at the flush:
-- only for a job in no gate (gate_holders reads the active set).
local function start_run(active_key, job_key, id, att, now, lease_until, token, worker_id, B)
  redis.call('HSET', job_key, 'status', 'running', 'att', int_text(att), 'st', now,
    'lease', token, 'wid', worker_id)
  if B then
    batch_add(B, 'ZADD', active_key, lease_until, id)
  else
    redis.call('ZADD', active_key, lease_until, id)
  end
end

-- Fair sharing (start-time fair queuing): a job's FIFO number is one past the larger
-- of its account's last number and the queue's virtual time 'vt' (the number of the
-- latest claimed job). An account with 10,000 waiting jobs holds numbers vt+1 ..
-- vt+10,000; another account's single job gets vt+1 and waits behind at most one
-- job of each other account. Jobs naming no account count as one account whose
-- last number is the seq key (for them alone this is plain FIFO). claim.lua keeps
-- seq at least vt, so enqueue_plain.lua numbers a job from seq alone.
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

local READY_FIELDS = {'status', 'prio', 'acct'}

-- Make job `id` ready: give it a place in the FIFO order of its priority.
-- Returns nil; or RECORD_GONE or the reason its record is bad, having written nothing.
local function push_ready(ready_key, seq_key, fair_key, job_key, id)
  local f, why = read_job(job_key, READY_FIELDS)
  if record_gone(f, job_key) then return RECORD_GONE end
  if why then return why end
  local seq = fair_seq(seq_key, fair_key, f.acct or nil)
  redis.call('ZADD', ready_key, ready_score(f.prio or 0, seq), id)
  redis.call('HSET', job_key, 'status', 'queued')
  return nil
end

-- Make a job ready ahead of its priority's FIFO order (hand-backs); `prio` checked.
local function push_front(ready_key, job_key, id, prio)
  redis.call('ZADD', ready_key, ready_score(prio or 0, 0), id)
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

-- Enter every gate of a job (checked gates), or none: returns the first full gate
-- ({key, limit, policy}), or nil after taking a place in each.
local function gate_enter(G, gates, id)
  for _, g in ipairs(gates) do
    if gate_holders(G, g[1]) >= g[2] then return g end
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

local PARKED_FIELDS = {'status', 'prio', 'pseq'}

-- Return a parked job to the ready queue at its old place in line (the caller takes
-- it out of the blocked set). Returns nil; or RECORD_GONE or the reason its record is
-- bad, having written nothing.
local function push_parked(G, job_key, id)
  local f, why = read_job(job_key, PARKED_FIELDS)
  if record_gone(f, job_key) then return RECORD_GONE end
  if why then return why end
  redis.call('ZADD', G.ready, ready_score(f.prio or 0, f.pseq or 0), id)
  redis.call('HSET', job_key, 'status', 'queued')
  redis.call('HDEL', job_key, 'pseq')
  return nil
end

-- Move up to `count` parked jobs of `key` back to the front of the ready queue.
-- A parked job with a bad record stays blocked: recover's sweep dead-letters it.
local function unpark(G, key, count)
  local woken = 0
  while woken < count do
    local pid = redis.call('LPOP', G.parked .. key)
    if not pid then break end
    if redis.call('ZSCORE', G.blocked, pid) then
      local why = push_parked(G, G.job .. pid, pid)
      if why == nil or why == RECORD_GONE then redis.call('ZREM', G.blocked, pid) end
      if why == nil then woken = woken + 1 end
    end
  end
  return woken
end

-- A running job leaves its gates (checked, as read_job returns them, or false);
-- parked jobs take the freed places.
local function gate_leave(G, gates, id)
  if not gates then return 0 end
  local woken = 0
  for _, g in ipairs(gates) do
    if redis.call('SREM', G.gate .. g[1], id) == 1 then
      woken = woken + unpark(G, g[1], g[2] - redis.call('SCARD', G.gate .. g[1]))
    end
  end
  if woken > 0 then wake(G.wake) end
  return woken
end

-- A whole number a run is told about (a time), or false: these fields are only
-- shown to the task, so a bad one is dropped rather than failing the job.
local function whole_or_false(value)
  if type(value) == 'number' then return value end
  if value and string.match(value, '^%-?%d+$') and #value <= 15 then return tonumber(value) end
  return false
end

-- The same, as the text to store (checked as whole_or_false checks it), or false.
local function whole_text(value)
  if type(value) == 'number' then return int_text(value) end
  if value and string.match(value, '^%-?%d+$') and #value <= 15 then return value end
  return false
end

-- Record a finished job: time, index for listing, record TTL. Succeeded jobs go to
-- the done ZSET, the other finished states to done .. ':' .. status (same slot), so
-- that each state is trimmed by its own age and count. `mem`: the worker's RSS when
-- the run ended (bytes), when it ran. `now`, `retention_ms`: numbers or their
-- int_text. B, known: a batch for the index writes (B.mem, when set: the batch's
-- `mem` checked once, used instead), and the job's fields read with its task and
-- account (see index_finished); both optional.
local function finish(job_key, done_key, id, status, now, retention_ms, ix, mem, B, known)
  local m
  if B and B.mem ~= nil then m = B.mem else m = whole_text(mem) end
  -- The lease ends emptied in the same HSET (an HDEL of its own cost 2 % of a job's
  -- Redis instructions); holds_lease takes '' for no lease.
  if m then
    redis.call('HSET', job_key, 'status', status, 'fin', now, 'mem', m, 'lease', '')
  else
    redis.call('HSET', job_key, 'status', status, 'fin', now, 'lease', '')
  end
  local index = done_key
  if status ~= 'succeeded' then index = done_key .. ':' .. status end
  if B then batch_add(B, 'ZADD', index, now, id) else redis.call('ZADD', index, now, id) end
  redis.call('PEXPIRE', job_key, retention_ms)
  if ix then index_finished(ix, job_key, id, now, B, known) end
end

-- The event stream: every state change appended to the queue's capped STREAM, as
-- entries {job = id, status = status}. Jobs that change to one status one after the
-- other in a batch script (a claim's 'running', a completion's 'succeeded') share an
-- entry whose `job` lists their ids separated by spaces, in order: an XADD costs
-- about a tenth of a job's Redis CPU (bench/redis_cost), and consecutive changes
-- only are grouped, so the stream keeps the exact order of every change.
-- Trimmed approximately (MAXLEN ~: whole nodes at a time, the cheap way) to about
-- `cap` state changes: an entry of k jobs trims the stream to cap / k entries.
-- E: events_of(). Without `batched` each change is one XADD at once; with it they
-- wait for events_flush(E), which the script calls once, last.
local EVENT_IDS_MAX = 100  -- ids in one entry (about 2.7 KB)

local function event_xadd(E, ids, count, status)
  local keep = E.cap_text
  if count > 1 then keep = int_text(math.ceil(E.cap / count)) end
  redis.call('XADD', E.stream, 'MAXLEN', '~', keep, '*', 'job', ids, 'status', status)
end

local function event_append(E, id, status)
  if E.cap <= 0 then return end
  local groups = E.groups
  if not groups then return event_xadd(E, id, 1, status) end
  local last = groups[#groups]
  if last and last.status == status and #last < EVENT_IDS_MAX then
    last[#last + 1] = id
  else
    groups[#groups + 1] = {id, status = status}
  end
end

local function events_flush(E)
  for _, group in ipairs(E.groups or {}) do
    event_xadd(E, table.concat(group, ' '), #group, group.status)
  end
  E.groups = nil
end

-- One state change written at once, for a script that writes one (enqueue_plain.lua):
-- events_of and event_append without their table. `cap` is the ARGV text, used as it
-- is when it is a whole number above 0 (anything else turns events off, as there).
local function event_now(stream, cap, id, status)
  if #cap <= 15 and string.match(cap, '^[1-9]%d*$') then
    redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', 'job', id, 'status', status)
  end
end

-- The event stream settings a script got: KEYS events and ARGV cap (checked: a bad
-- cap turns events off rather than failing the state change). `batched`: see above.
local function events_of(stream, cap, batched)
  local n = tonumber(cap)
  if not n or n < 0 or n ~= math.floor(n) then n = 0 end
  local E = {stream = stream, cap = n, cap_text = int_text(n)}
  if batched and n > 0 then E.groups = {} end
  return E
end

-- Attempt history, kept in the job's 'hist' field as a JSON list. The common case
-- (one attempt that ends the job) writes none: its attempt is the record itself
-- (st, fin, wid, err, tb, mem, status). An entry is appended only when an attempt
-- ends and the job goes on (a retry, a lost worker, a hand-back, a deferral), and
-- when a dead job is requeued (its last attempt, then a 'requeued' mark), so the
-- next attempt may overwrite the record's fields. Entries: n attempt, o outcome,
-- st start ms, fin end ms, w worker, err, tb, m RSS bytes, at (marks: when).
local HISTORY_MAX = 100  -- entries kept (the oldest go first)
local HISTORY_TEXT_MAX = 4000  -- characters kept of an error or traceback (its end)
local HISTORY_FIELDS = {'att', 'st', 'wid', 'hist'}

local function clipped(text)
  if not text or text == '' then return nil end
  if #text > HISTORY_TEXT_MAX then return '...' .. string.sub(text, -HISTORY_TEXT_MAX) end
  return text
end

-- One attempt's entry from the record's fields `f` (read with HISTORY_FIELDS).
local function attempt_entry(f, outcome, now, err, tb, mem)
  return {n = whole_or_false(f.att) or 0, o = outcome, st = whole_or_false(f.st) or nil,
    fin = now, w = f.wid or nil, err = clipped(err), tb = clipped(tb),
    m = whole_or_false(mem) or nil}
end

-- A mark without an attempt (a requeue from the dead-letter queue).
local function mark_entry(outcome, now)
  return {o = outcome, at = now}
end

-- Append entries to the history `f.hist` (as read). Never fails: a history that is
-- not a JSON list is replaced by one that says so.
local function history_append(job_key, f, ...)
  local list = {}
  if f.hist then
    local ok, decoded = pcall(cjson.decode, f.hist)
    if ok and type(decoded) == 'table' and (next(decoded) == nil or decoded[1]) then
      list = decoded
    else
      list = {mark_entry('history lost', 0)}
    end
  end
  for _, entry in ipairs({...}) do list[#list + 1] = entry end
  while #list > HISTORY_MAX do table.remove(list, 1) end
  redis.call('HSET', job_key, 'hist', cjson.encode(list))
end

-- Idle registrations older than this are ignored: a live idle worker renews its
-- registration at least every 2 s (WorkerOptions.idle_wait is capped at 2 s).
local IDLE_STALE_MS = 3000

-- The fields a started run's entry carries (with task, args), as read_job reads them.
local ENTRY_FIELDS = {'maxr', 'opts', 'lres', 'enq', 'run', 'sched', 'sdue', 'acct', 'rbase'}

-- A started run's entry: what a worker needs to start it without another read.
-- One format for both ways a job reaches a worker: claim.lua returns these 15
-- values flat per job; a hand-off pushes them as JSON with the lease token last.
-- {id, task, args, attempts, maxr|false, opts|false, lres|false, enqueued ms|false,
--  run-at ms|false, started ms, schedule|false, schedule due ms|false, acct|false,
--  fence|false, retry base|false}. `f`: the job's ENTRY_FIELDS (false when absent).
-- The three times a run is only told about (enqueued, run-at, schedule due) go out
-- as stored, unchecked: the worker drops one that is not a whole number
-- (job_wire.shown_ms), as whole_or_false would here at about 4 % of a job's Redis
-- instructions (bench/redis_cost). run_entry_into appends the values to `out` (the
-- claim's flat reply).
local function run_entry_into(out, id, task, args, att, f, started, fence)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = id, task, args, att
  out[n + 5], out[n + 6], out[n + 7] = f.maxr or false, f.opts or false, f.lres or false
  out[n + 8], out[n + 9], out[n + 10] = f.enq or false, f.run or false, started
  out[n + 11], out[n + 12] = f.sched or false, f.sdue or false
  out[n + 13], out[n + 14], out[n + 15] = f.acct or false, fence or false, f.rbase or false
  return out
end

local function run_entry(id, task, args, att, f, started, fence)
  return run_entry_into({}, id, task, args, att, f, started, fence)
end

-- A lock key's fencing token: grows with every run that enters the gate (limit 1).
-- fence_prefix: the queue's fence counter key prefix (+ gate key); never expires.
local function gate_fence(fence_prefix, gates)
  if not gates then return false end
  for _, g in ipairs(gates) do
    if g[2] == 1 then return redis.call('INCR', fence_prefix .. g[1]) end
  end
  return false
end

-- Direct hand-off (enqueue.lua, enqueue_plain.lua). I: {idle = ZSET, leases = HASH,
-- inbox = LIST key prefix, active = ZSET}.

-- Take a hand-off place of the most recently registered live idle worker:
-- {worker id, token, lease ms}. A registration 'token|lease ms|slots' holds that many
-- places; the last one taken ends it (an older 'token|lease ms' holds one).
local function take_idle_worker(I, now)
  local found = redis.call('ZREVRANGEBYSCORE', I.idle, '+inf', int_text(now - IDLE_STALE_MS),
    'LIMIT', '0', '1')
  if #found == 0 then return nil end
  local wid = found[1]
  local lease = redis.call('HGET', I.leases, wid) or ''
  local token, lease_ms, slots = string.match(lease, '^(.+)|(%d+)|(%d+)$')
  if not token then
    token, lease_ms = string.match(lease, '^(.+)|(%d+)$')
    slots = '1'
  end
  slots = tonumber(slots)
  if token and slots > 1 then
    redis.call('HSET', I.leases, wid, token .. '|' .. lease_ms .. '|' .. int_text(slots - 1))
  else
    redis.call('ZREM', I.idle, wid)
    redis.call('HDEL', I.leases, wid)
  end
  if not token then return nil end
  return {wid, token, tonumber(lease_ms)}
end

-- Lease a new job (no gates: those go through the claim) to `worker` and push its
-- entry (run_entry, then the token) to the worker's inbox: it starts one network
-- hop after the enqueue. Its whole numbers go as text (the worker's decoder takes
-- either): cjson prints a number with snprintf, as Redis 7.0 does a number given to
-- redis.call, each about 2,600 instructions (bench/redis_cost/RESULTS.md).
-- `f`: ENTRY_FIELDS as stored (text) or as read_job checks them (numbers).
local function push_hand_off(I, worker, id, task, args, f, now_text)
  if type(f.maxr) == 'number' then f.maxr = int_text(f.maxr) end
  if type(f.rbase) == 'number' then f.rbase = int_text(f.rbase) end
  local entry = run_entry(id, task, args, '1', f, now_text, false)
  entry[#entry + 1] = worker[2]
  local inbox = I.inbox .. worker[1]
  redis.call('RPUSH', inbox, cjson.encode(entry))
  redis.call('PEXPIRE', inbox, '60000')
end

local function hand_off(I, worker, job_key, id, task, args, now)
  local f = read_job(job_key, ENTRY_FIELDS)  -- checked by the enqueue that wrote them
  local now_text = int_text(now)
  start_run(I.active, job_key, id, 1, now_text, int_text(now + worker[3]), worker[2],
    worker[1])
  push_hand_off(I, worker, id, task, args, f, now_text)
end

-- ENTRY_FIELDS as a set, made on first use (a function library's load runs without
-- the standard libraries).
local entry_field_set = nil
local function is_entry_field(name)
  if not entry_field_set then
    entry_field_set = {}
    for i = 1, #ENTRY_FIELDS do entry_field_set[ENTRY_FIELDS[i]] = true end
  end
  return entry_field_set[name] == true
end

-- Fields a hand-back checks first (release.lua, retire.lua).
local HAND_BACK_FIELDS = {'att', 'prio', 'gate'}

-- Return a leased job to the front of its priority in the ready queue, without
-- counting the attempt (graceful shutdown: the run never completed). `f` holds its
-- checked HAND_BACK_FIELDS.
local function hand_back(active_key, ready_key, job_key, id, f)
  redis.call('ZREM', active_key, id)
  push_front(ready_key, job_key, id, f.prio)
  redis.call('HINCRBY', job_key, 'att', -1)
  redis.call('HDEL', job_key, 'lease', 'st', 'wid')
end

-- Dead-letter actions on one job: requeue_dead.lua, purge_dead.lua and resolve.lua
-- act on one job or on a selection; operation_batch.lua on a bulk operation's batch.
-- One owner each, so a bulk requeue is exactly the requeue of one job.
-- D: {dead = the dead ZSET, ready, seq, fair, job_prefix, ix = index_prefix,
-- E = events_of(...)}.
local DEAD_CHECKED = {'status', 'task', 'args', 'maxr', 'dl', 'gate', 'lres', 'prio', 'att',
  'err', 'st', 'fin', 'wid', 'tb', 'mem', 'hist'}

-- How the attempt that left the job dead ended, as its error tells.
local function dead_outcome(err)
  if err and string.sub(err, 1, 11) == 'worker lost' then return 'worker lost' end
  return 'dead'
end

-- Requeue dead job `id`, keeping its attempt history: the dead attempt (as the record
-- held it) and a 'requeued' mark are appended to 'hist' before the run fields are
-- cleared; the next run is numbered after the last, and the job gets its retries
-- again (attempts before the requeue are kept in 'rbase'). opts: `wanted` (a
-- function of the fields read: false keeps the job dead), `prio` (a checked
-- priority to give it), `args` (new encoded arguments: an operator's edit), `dry`
-- (decide only: write nothing).
-- Returns 'requeued'; 'skipped' (not wanted); 'invalid' (a record the claim would
-- dead-letter again: it stays dead, its error says why); or nil: not a dead job.
local function requeue_dead_job(D, id, opts)
  local job_key = D.job_prefix .. id
  if not redis.call('ZSCORE', D.dead, id) then return nil end
  if redis.call('EXISTS', job_key) == 0 then
    if not opts.dry then redis.call('ZREM', D.dead, id) end
    return nil
  end
  local f, why = read_job(job_key, DEAD_CHECKED)
  if opts.wanted and not opts.wanted(f) then return 'skipped' end
  why = why or (not f.task and missing_field('task')) or (not f.args and missing_field('args'))
  if why then
    if not opts.dry then redis.call('HSET', job_key, 'err', why) end
    return 'invalid'
  end
  if opts.dry then return 'requeued' end
  local last = attempt_entry(f, dead_outcome(f.err), whole_or_false(f.fin), f.err, f.tb, f.mem)
  history_append(job_key, f, last, mark_entry('requeued', now_ms()))
  redis.call('ZREM', D.dead, id)
  unindex_dead(D.ix, job_key, id)
  redis.call('HSET', job_key, 'rbase', f.att or 0)
  if opts.prio then redis.call('HSET', job_key, 'prio', opts.prio) end
  if opts.args then redis.call('HSET', job_key, 'args', opts.args) end
  redis.call('HDEL', job_key, 'fin', 'st', 'wid', 'mem')
  push_ready(D.ready, D.seq, D.fair, job_key, id)  -- its fields are checked above
  event_append(D.E, id, 'queued')
  return 'requeued'
end

-- Delete dead job `id` for good (`dry`: decide only). Returns 'purged', or nil: it is
-- not a dead job.
local function purge_dead_job(D, id, dry)
  if dry then
    if redis.call('ZSCORE', D.dead, id) then return 'purged' end
    return nil
  end
  if redis.call('ZREM', D.dead, id) == 0 then return nil end
  unindex_dead(D.ix, D.job_prefix .. id, id)
  redis.call('DEL', D.job_prefix .. id, D.result_prefix .. id)
  return 'purged'
end

-- Mark dead job `id` handled at `now` with `note` (`dry`: decide only). Returns
-- `now`; false when there is no such job; or the status of a job that is not dead.
local function resolve_dead_job(job_prefix, id, note, now, dry)
  local job_key = job_prefix .. id
  local status = redis.call('HGET', job_key, 'status')
  if not status then return false end
  if status ~= 'dead' then return status end
  if not dry then redis.call('HSET', job_key, 'rsv', now, 'rnote', note) end
  return now
end
