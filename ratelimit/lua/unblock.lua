-- unblock.lua - clear a block record, compare-and-delete on its reference id.
--
-- KEYS[1]  block record hash of the mailbox
-- KEYS[2]  history list of the mailbox
-- KEYS[3]  state hash of the mailbox (track.lua's; field probation_until, unix seconds)
-- ARGV[1]  expected reference id; "" clears whatever block is there (operator unblock)
-- ARGV[2]  now, unix seconds
-- ARGV[3]  who: "ldap", "expiry" or the operator's name
-- ARGV[4]  how: password-change | operator | expiry
-- ARGV[5]  detail for the history (e.g. "password changed at 1700000000")
-- ARGV[6]  probation, seconds (0 = none)
-- ARGV[7]  "1" when the operator marks the block a false positive
-- ARGV[8]  history entries to keep
-- ARGV[9]  history TTL, seconds
--
-- Returns {"cleared", 0|1, "ref", ref-or-"", "why", text}. A newer block (another ref)
-- is never cleared by an answer about an older one.
--
-- The incident is forgotten with the block, or the owner's first message after a password
-- change would be judged with the attacker's traffic still in the windows (and blocked
-- again, probation making the thresholds tighter): the 1-hour and 24-hour rings of the
-- state hash and the two recent messages are deleted (the daily ring and its baseline
-- stay: the day of the block is not learned anyway), and so are the client networks
-- first seen from 24 hours before the block on (the net key of the same mailbox, the
-- state key's name with "net" for "st"), so the attacker's proxies are never seen again
-- if they come back.

local blk, hist, st = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[2])

local cur = redis.call('HGET', blk, 'ref')
if not cur then
    return {'cleared', 0, 'ref', '', 'why', 'not blocked'}
end
if ARGV[1] ~= '' and cur ~= ARGV[1] then
    return {'cleared', 0, 'ref', cur, 'why', 'reference mismatch'}
end

local reason = redis.call('HGET', blk, 'reason')
local created = tonumber(redis.call('HGET', blk, 'created')) or now
redis.call('DEL', blk)

local windows = {'f', 'h', 'i0', 'i1'}
for k = 0, 11 do windows[#windows + 1] = 'f' .. k end
for k = 0, 23 do windows[#windows + 1] = 'h' .. k end
redis.call('HDEL', st, unpack(windows))
local net = string.gsub(st, ':st$', ':net')
if net ~= st then
    local flat = redis.call('HGETALL', net)
    local since = math.floor((created - 86400) / 300)
    for i = 1, #flat, 2 do
        local first = tonumber(string.match(flat[i + 1], ':(%d+)$')) -- none: keep it
        if first and first >= since then redis.call('HDEL', net, flat[i]) end
    end
end
local probation = tonumber(ARGV[6])
if probation > 0 then
    redis.call('HSET', st, 'probation_until', now + probation)
    if redis.call('TTL', st) < probation then
        redis.call('EXPIRE', st, probation)
    end
end
redis.call('LPUSH', hist, cjson.encode({
    event = 'unblock', ref = cur, at = now, by = ARGV[3], how = ARGV[4], detail = ARGV[5],
    reason = reason, false_positive = (ARGV[7] == '1'), probation_until = now + probation}))
redis.call('LTRIM', hist, 0, tonumber(ARGV[8]) - 1)
redis.call('EXPIRE', hist, tonumber(ARGV[9]))
return {'cleared', 1, 'ref', cur, 'why', ARGV[4]}
