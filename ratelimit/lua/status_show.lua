-- status_show.lua - everything the helpdesk sees of one mailbox, in one round trip.
--
-- KEYS[1]  block record hash of the mailbox ({mailbox} hash tag)
-- KEYS[2]  history list of the mailbox (JSON block/unblock events, newest first)
-- KEYS[3]  overrides hash of the mailbox
-- KEYS[4]  state hash of the mailbox (only probation_until is read)
-- ARGV[1]  history entries to return (at most 40)
--
-- Returns name/value pairs: "blk.<field>" for each field of the block record,
-- "ovr.<field>" for each override, "probation_until" (0 when none), and "hist" once per
-- history entry, newest first. Read-only.

local out = {}
local function fields(key, prefix, max)
    local h = redis.call('HGETALL', key)
    for i = 1, math.min(#h, 2 * max), 2 do
        out[#out + 1] = prefix .. h[i]
        out[#out + 1] = h[i + 1]
    end
end

fields(KEYS[1], 'blk.', 24)
fields(KEYS[3], 'ovr.', 16)
out[#out + 1] = 'probation_until'
out[#out + 1] = tonumber(redis.call('HGET', KEYS[4], 'probation_until')) or 0
local n = math.min(tonumber(ARGV[1]) or 0, 40)
if n > 0 then
    for _, e in ipairs(redis.call('LRANGE', KEYS[2], 0, n - 1)) do
        out[#out + 1] = 'hist'
        out[#out + 1] = e
    end
end
return out
