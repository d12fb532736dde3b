-- override_set.lua - change a mailbox's overrides (the hash track.lua reads) and say what
-- they were and what they are now, atomically.
--
-- KEYS[1]  overrides hash of the mailbox
-- ARGV[1], ARGV[2], ...  pairs of field name and "s:<value>" (set) or "d:" (delete)
--
-- Fields not named stay (the overrides file's "file" bookkeeping among them: see
-- domcache.c); "clear everything" is a delete of every override field.
-- Returns name/value pairs: "before.<field>" for each field before the change, then
-- "after.<field>" for each field after it. The hash has no TTL: an operator's setting
-- stays until an operator clears it (a temporary raise ends by its raise_until).

local key = KEYS[1]
local out = {}
local function dump(prefix)
    local h = redis.call('HGETALL', key)
    for i = 1, math.min(#h, 32), 2 do
        out[#out + 1] = prefix .. h[i]
        out[#out + 1] = h[i + 1]
    end
end

dump('before.')
for i = 1, #ARGV - 1, 2 do
    local op = ARGV[i + 1]
    if op:sub(1, 2) == 's:' then
        redis.call('HSET', key, ARGV[i], op:sub(3))
    else
        redis.call('HDEL', key, ARGV[i])
    end
end
dump('after.')
return out
