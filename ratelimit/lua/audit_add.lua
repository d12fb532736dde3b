-- audit_add.lua - append one entry to the audit stream of operator actions, capped.
--
-- KEYS[1]  the audit stream ("<prefix>1:audit")
-- KEYS[2]  where an audit LIST of an older policyd is moved aside ("<prefix>1:audit:list")
-- ARGV[1]  entries to keep, about (XADD MAXLEN ~: Redis trims whole stream nodes)
-- ARGV[2..] field, value, field, value, ...: "at", "action", "by" (the operator), "peer",
--          "target", and "entry" (the whole entry as one JSON object, before/after
--          included: what the audit command returns)
--
-- Returns {"id", stream id, "length", n}.

if redis.call('TYPE', KEYS[1]).ok == 'list' then
    redis.call('RENAME', KEYS[1], KEYS[2])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 2))
return {'id', id, 'length', redis.call('XLEN', KEYS[1])}
