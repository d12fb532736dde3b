-- alert_detail.lua - what an alert mail tells about a blocked mailbox besides its event,
-- in one round trip. Read-only.
--
-- KEYS[1]  block record hash of the mailbox ({mailbox} hash tag)
-- KEYS[2]  client networks hash of the mailbox (network -> "last:first" 5-minute buckets,
--          or an older plain "last")
-- ARGV[1]  networks to return, most recently seen first (at most 16)
--
-- Returns name/value pairs: "blocked" 0|1, then with a block record "ref", "reason",
-- "rules", "created" (unix seconds), "refused" and, when the record has it, "held"
-- (integers); then "net" once per network, "<network> <last bucket> <first bucket>".

local out = {}
local r = redis.call('HMGET', KEYS[1], 'ref', 'reason', 'rules', 'created', 'refused', 'held')
if r[1] then
    out = {'blocked', 1, 'ref', r[1], 'reason', r[2] or '', 'rules', r[3] or '',
           'created', tonumber(r[4]) or 0, 'refused', tonumber(r[5]) or 0}
    if r[6] then
        out[#out + 1] = 'held'
        out[#out + 1] = tonumber(r[6]) or 0
    end
else
    out = {'blocked', 0}
end

local max = math.min(tonumber(ARGV[1]) or 0, 16)
if max > 0 then
    local flat = redis.call('HGETALL', KEYS[2])
    local nets = {}
    for i = 1, #flat, 2 do
        local l, f = string.match(flat[i + 1], '^(%d+):?(%d*)$')
        l = tonumber(l) or 0
        nets[#nets + 1] = {flat[i], l, tonumber(f) or l}
    end
    table.sort(nets, function(a, b)
        if a[2] ~= b[2] then return a[2] > b[2] end
        return a[1] < b[1]
    end)
    for i = 1, math.min(#nets, max) do
        out[#out + 1] = 'net'
        out[#out + 1] = nets[i][1] .. ' ' .. nets[i][2] .. ' ' .. nets[i][3]
    end
end
return out
