-- audit_read.lua - one page of the audit stream, newest first (XREVRANGE).
--
-- KEYS[1]  the audit stream
-- ARGV[1]  offset (0 = the newest entry); past 100000 the page is empty: XREVRANGE
--          reads from the newest, and a deep page would cost a long script
-- ARGV[2]  entries to return (at most 100)
--
-- Returns {"total", n, "id", stream id, "entry", json, "id", ..., "entry", ...}. An
-- entry without an "entry" field (not written by audit_add.lua) is returned as a JSON
-- object of its fields.

local off = math.max(tonumber(ARGV[1]) or 0, 0)
local n = math.min(tonumber(ARGV[2]) or 0, 100)
local out = {'total', 0}
if redis.call('TYPE', KEYS[1]).ok ~= 'stream' then return out end
out[2] = redis.call('XLEN', KEYS[1])
if n <= 0 or off > 100000 then return out end
local page = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', off + n)
for i = off + 1, #page do
    local id, f = page[i][1], page[i][2]
    local entry, fields = nil, {}
    for j = 1, #f, 2 do
        if f[j] == 'entry' then entry = f[j + 1] end
        fields[f[j]] = f[j + 1]
    end
    out[#out + 1] = 'id'
    out[#out + 1] = id
    out[#out + 1] = 'entry'
    out[#out + 1] = entry or cjson.encode(fields)
end
return out
