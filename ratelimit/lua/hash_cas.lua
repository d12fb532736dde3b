-- hash_cas.lua - compare-and-set of one field of a hash (a domain's overrides in
-- "<prefix>1:domains"): the caller read the old value, computed the new one, and writes
-- it only if nobody changed the field meanwhile.
--
-- KEYS[1]  the hash
-- ARGV[1]  the field
-- ARGV[2]  "1" .. expected value, or "0" when the field was absent
-- ARGV[3]  "1" .. new value, or "0" to delete the field
--
-- Returns {"done", 0|1, "current", value-or-""}: done = 0 when the field was not what
-- the caller expected (nothing was written; current is what it is now).

local cur = redis.call('HGET', KEYS[1], ARGV[1])
local want = ARGV[2]
if (want == '0' and cur) or (want ~= '0' and cur ~= want:sub(2)) then
    return {'done', 0, 'current', cur or ''}
end
if ARGV[3] == '0' then
    redis.call('HDEL', KEYS[1], ARGV[1])
else
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]:sub(2))
end
return {'done', 1, 'current', cur or ''}
