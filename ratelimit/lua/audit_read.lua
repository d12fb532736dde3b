-- audit_read.lua - one page of the audit list, newest first.
--
-- KEYS[1]  the audit list
-- ARGV[1]  offset (0 = the newest entry)
-- ARGV[2]  entries to return (at most 100)
--
-- Returns {"total", n, "entry", json, "entry", json, ...}.

local off = tonumber(ARGV[1]) or 0
local n = math.min(tonumber(ARGV[2]) or 0, 100)
local out = {'total', redis.call('LLEN', KEYS[1])}
if n > 0 then
    for _, e in ipairs(redis.call('LRANGE', KEYS[1], off, off + n - 1)) do
        out[#out + 1] = 'entry'
        out[#out + 1] = e
    end
end
return out
