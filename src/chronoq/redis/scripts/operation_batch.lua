-- operation_batch: act on the next ids of a bulk operation's frozen set in one queue,
-- and advance its cursor in the same step, so that a runner killed at any point
-- leaves each job acted on once or not at all (never twice, never skipped).
-- KEYS[1] op_progress    HASH of this queue's part: n, cursor, o:<outcome>, cancelled
-- KEYS[2] op_ids         LIST of the part's frozen job ids
-- KEYS[3] dead           ZSET of dead-lettered ids; score = time of death ms
-- KEYS[4] ready          ZSET of ready ids; score = priority, then FIFO
-- KEYS[5] seq            FIFO counter of jobs naming no account
-- KEYS[6] wake           doorbell LIST
-- KEYS[7] job_prefix     job HASH key prefix (+ id)
-- KEYS[8] fair           fair-sharing HASH ('vt', 'a:<account>')
-- KEYS[9] index_prefix   history index key prefix (+ name, keys.py QueueKeys.index_prefix)
-- KEYS[10] events        STREAM of state changes (capped)
-- KEYS[11] result_prefix  result STRING key prefix (+ id)
-- ARGV[1] kind: 'requeue', 'purge' or 'resolve'
-- ARGV[2] most ids to act on in this call (1..10000)
-- ARGV[3] '1' for a dry run (count what would happen, change no job), else '0'
-- ARGV[4] priority to give requeued jobs ('' to keep theirs)
-- ARGV[5] note of a resolve ('' for none)
-- ARGV[6] event stream cap (MAXLEN ~; 0: no events)
-- Returns {cursor, n, state}: state 'more', 'done' (cursor reached n), 'cancelled'
-- (the part was cancelled: nothing done) or 'missing' (no such part, or its list is
-- shorter than it says: expired, or never captured; nothing done).
local P = KEYS[1]
local head = redis.call('HMGET', P, 'n', 'cursor', 'cancelled')
if not head[1] then return {0, 0, 'missing'} end
local n, cursor = tonumber(head[1]), tonumber(head[2])
if not n or not cursor then
  return redis.error_reply('operation_batch: bad progress hash ' .. P .. ' (n, cursor)')
end
if head[3] then return {cursor, n, 'cancelled'} end
local kind, max, dry = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
if kind ~= 'requeue' and kind ~= 'purge' and kind ~= 'resolve' then
  return redis.error_reply("operation_batch: kind must be requeue, purge or resolve, got '"
    .. tostring(kind) .. "'")
end
if not max or max < 1 or max > 10000 or max ~= math.floor(max) then
  return redis.error_reply('operation_batch: batch size must be 1..10000, got ' .. tostring(ARGV[2]))
end
local prio = nil
if ARGV[4] ~= '' then
  local p, why = check_priority('priority', ARGV[4])
  if not p then return redis.error_reply('operation_batch: ' .. why) end
  prio = p
end
if cursor >= n then return {cursor, n, 'done'} end

local D = {dead = KEYS[3], ready = KEYS[4], seq = KEYS[5], fair = KEYS[8], job_prefix = KEYS[7],
  ix = KEYS[9], E = events_of(KEYS[10], ARGV[6]), result_prefix = KEYS[11]}
local OPTS = {prio = prio, dry = dry}
local now = now_ms()
local ids = redis.call('LRANGE', KEYS[2], cursor, cursor + max - 1)
if #ids < math.min(max, n - cursor) then return {cursor, n, 'missing'} end  -- the list expired
local counts, requeued = {}, 0
for _, id in ipairs(ids) do
  local outcome
  if kind == 'requeue' then
    outcome = requeue_dead_job(D, id, OPTS)
    if outcome == 'requeued' then requeued = requeued + 1 end
  elseif kind == 'purge' then
    outcome = purge_dead_job(D, id, dry)
  else
    local r = resolve_dead_job(KEYS[7], id, ARGV[5], now, dry)
    if r == now then outcome = 'resolved' end
  end
  outcome = outcome or 'not_dead'
  counts[outcome] = (counts[outcome] or 0) + 1
end
for outcome, count in pairs(counts) do redis.call('HINCRBY', P, 'o:' .. outcome, count) end
cursor = cursor + #ids
redis.call('HSET', P, 'cursor', cursor)
if requeued > 0 and not dry then wake(KEYS[6]) end
if cursor >= n then return {cursor, n, 'done'} end
return {cursor, n, 'more'}
