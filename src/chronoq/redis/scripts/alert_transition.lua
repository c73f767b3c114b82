-- alert_transition: one evaluator's observation of one rule for one subject,
-- compared with the stored state and set in one step, so that any number of
-- evaluators notify once per firing and once per resolution.
-- ok/resolved -> pending (breached) -> firing (breached for pending ms) -> resolved.
-- KEYS[1] state     HASH 'rule<TAB>subject' -> state JSON
-- KEYS[2] silences  HASH 'rule' or 'rule<TAB>subject' -> JSON {until_ms, reason}
-- ARGV[1] rule name
-- ARGV[2] subject ('default', a worker id, 'redis')
-- ARGV[3] '1' when the condition holds, '0' when it does not
-- ARGV[4] when the evaluator observed it, server ms (older than the state's: ignored)
-- ARGV[5] pending ms (how long it must hold before firing)
-- ARGV[6] cooldown ms (after a notification, how long before a new firing notifies)
-- ARGV[7] the observed value ('' for none)
-- ARGV[8] message
-- ARGV[9] level (warning or critical)
-- Returns {action, state, note}: action 'fire' or 'resolve' when this caller must
-- notify, else ''; note 'silenced', 'cooldown', 'stale' or ''.
local rule, subject, breach = ARGV[1], ARGV[2], ARGV[3] == '1'
local observed, pending, cooldown = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if rule == '' or subject == '' or not observed or not pending or not cooldown then
  return redis.error_reply('alert_transition: needs a rule, a subject and numeric times')
end
local now = now_ms()
local field = rule .. '\t' .. subject
local raw = redis.call('HGET', KEYS[1], field)
local ok_state, s = false, nil
if raw then ok_state, s = pcall(cjson.decode, raw) end
if not ok_state or type(s) ~= 'table' then
  if not breach then
    if raw then redis.call('HDEL', KEYS[1], field) end
    return {'', 'ok', ''}
  end
  s = {state = 'ok', since = now, updated = 0, notified = 0, last_notified = 0}
end
if observed < (tonumber(s.updated) or 0) then return {'', s.state, 'stale'} end

local function silenced()
  for _, name in ipairs({rule, field}) do
    local entry = redis.call('HGET', KEYS[2], name)
    if entry then
      local fine, silence = pcall(cjson.decode, entry)
      if fine and type(silence) == 'table' and (tonumber(silence.until_ms) or 0) > now then
        return true
      end
    end
  end
  return false
end

local action, note = '', ''
if breach then
  if s.state ~= 'pending' and s.state ~= 'firing' then s.state, s.since = 'pending', now end
  if s.state == 'pending' and now - s.since >= pending then
    s.state, s.since, s.notified = 'firing', now, 0
  end
  if s.state == 'firing' and s.notified ~= 1 then
    if silenced() then
      note = 'silenced'
    elseif s.last_notified > 0 and now - s.last_notified < cooldown then
      note = 'cooldown'
    else
      action, s.notified, s.last_notified = 'fire', 1, now
    end
  end
else
  if s.state == 'pending' or s.state == 'ok' then
    redis.call('HDEL', KEYS[1], field)
    return {'', 'ok', ''}
  end
  if s.state == 'firing' then
    s.state, s.since = 'resolved', now
    if s.notified == 1 then
      if silenced() then note = 'silenced' else action = 'resolve' end
    end
    s.notified = 0
  end
end
s.updated, s.value, s.message, s.level = observed, ARGV[7], ARGV[8], ARGV[9]
redis.call('HSET', KEYS[1], field, cjson.encode(s))
return {action, s.state, note}
