-- audit_add.lua - append one entry to the audit list of operator actions, capped.
--
-- KEYS[1]  the audit list ("<prefix>1:audit"), newest first
-- ARGV[1]  the entry (one JSON object)
-- ARGV[2]  entries to keep
--
-- Returns {"length", n}.

redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return {'length', redis.call('LLEN', KEYS[1])}
