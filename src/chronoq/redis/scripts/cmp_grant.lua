-- cmp_grant: grant one campaign send against its account's day cap and the
-- recipient domain's day cap, counted once per grant id; or name the cap that
-- refuses it. The caller (chronoq.campaigns.grant) has checked the windows, named
-- the account-local day and evaluated the warm-up for the first sending day it
-- assumed; the counters of a day expire some days after it (ARGV[7]).
-- KEYS[1] day  the day's counters HASH (keys.py CampaignAccountKeys.day): n, d:<domain>
-- KEYS[2] ids  the day's counted grant ids SET (CampaignAccountKeys.ids)
-- KEYS[3] meta  the account HASH (CampaignAccountKeys.meta): first (first sending day)
-- KEYS[4] ids  the previous day's counted grant ids SET (a retry across midnight)
-- ARGV[1] the account-local day, YYYY-MM-DD
-- ARGV[2] the day's cap, warm-up evaluated with ARGV[6] ('' for none)
-- ARGV[3] the recipient's domain
-- ARGV[4] the domain's cap per day ('' for none)
-- ARGV[5] the grant id (one per send job: the same id is counted once)
-- ARGV[6] the first sending day the cap was evaluated with ('' when none known)
-- ARGV[7] ms the day's keys live from now (past the day's end)
-- ARGV[8] ms the account's first sending day is kept after its last grant
-- Returns {'granted', n} (counted now; n = the day's sends with it),
-- {'again', n} (this grant id was counted already: nothing counted),
-- {'denied', 'per_day' | 'per_domain_per_day', n} (n = the count at its cap), or
-- {'first', day} when the account's first sending day is `day` ('' none), not the
-- one the caller assumed: nothing is counted; evaluate the cap with it, ask again.
local function whole(text, what)
  if text == '' then return nil end
  local n = tonumber(text)
  if not n or n < 0 or n ~= math.floor(n) then
    return false, redis.error_reply('cmp_grant: bad ' .. what .. ' ' .. tostring(text))
  end
  return n
end
local day, domain, grant_id, assumed = ARGV[1], ARGV[3], ARGV[5], ARGV[6]
if not string.match(day, '^%d%d%d%d%-%d%d%-%d%d$') then
  return redis.error_reply('cmp_grant: bad day ' .. tostring(day))
end
if assumed ~= '' and not string.match(assumed, '^%d%d%d%d%-%d%d%-%d%d$') then
  return redis.error_reply('cmp_grant: bad first day ' .. tostring(assumed))
end
if domain == '' then return redis.error_reply('cmp_grant: empty domain') end
if grant_id == '' then return redis.error_reply('cmp_grant: empty grant id') end
local cap, err = whole(ARGV[2], 'day cap')
if cap == false then return err end
local domain_cap, err2 = whole(ARGV[4], 'domain cap')
if domain_cap == false then return err2 end
local day_ttl, meta_ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
if not day_ttl or day_ttl < 1 or not meta_ttl or meta_ttl < 1 then
  return redis.error_reply('cmp_grant: bad ttl ' .. tostring(ARGV[7]) .. ' ' .. tostring(ARGV[8]))
end

if redis.call('SISMEMBER', KEYS[2], grant_id) == 1 or redis.call('SISMEMBER', KEYS[4], grant_id) == 1 then
  return {'again', tonumber(redis.call('HGET', KEYS[1], 'n')) or 0}
end
local first = redis.call('HGET', KEYS[3], 'first') or ''
if first ~= assumed then return {'first', first} end

local counts = redis.call('HMGET', KEYS[1], 'n', 'd:' .. domain)
local n, sent_domain = tonumber(counts[1]) or 0, tonumber(counts[2]) or 0
if cap and n >= cap then return {'denied', 'per_day', n} end
if domain_cap and sent_domain >= domain_cap then
  return {'denied', 'per_domain_per_day', sent_domain}
end

n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], 'd:' .. domain, 1)
redis.call('SADD', KEYS[2], grant_id)
redis.call('PEXPIRE', KEYS[1], int_text(day_ttl))
redis.call('PEXPIRE', KEYS[2], int_text(day_ttl))
if first == '' then redis.call('HSET', KEYS[3], 'first', day) end
redis.call('PEXPIRE', KEYS[3], int_text(meta_ttl))
return {'granted', n}
