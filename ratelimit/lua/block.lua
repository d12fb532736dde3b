-- block.lua - write a mailbox's block record, first writer wins.
--
-- KEYS[1]  block record hash of the mailbox ({mailbox} hash tag)
-- KEYS[2]  history list of the mailbox (same tag)
-- ARGV[1]  reference id proposed by this writer ("PD-XXXXXXXX")
-- ARGV[2]  reason: compromise | rate | manual | weak-password
-- ARGV[3]  score (integer)
-- ARGV[4]  evidence: the rules that fired with their numbers (one line)
-- ARGV[5]  now, unix seconds (the caller's clock: scripts never read it)
-- ARGV[6]  created_by: "auto", "import" or the operator's name
-- ARGV[7]  unblock condition: password-change | expiry | operator
-- ARGV[8]  expires at, unix seconds (0 = never; with unblock condition "expiry")
-- ARGV[9]  the normalised mailbox, in clear (listing and alerts need it)
-- ARGV[10] history entries to keep
-- ARGV[11] history TTL, seconds
--
-- Returns {"created", 0|1, "ref", ref, "reason", reason, "created_at", t, "created_by", who,
-- "unblock", cond}: created = 1 when this call wrote the record; otherwise the record
-- already there (written by another node, or earlier) is returned untouched, so every
-- node answers the client with the same reference id.

local blk, hist = KEYS[1], KEYS[2]

local function reply(created)
    local r = redis.call('HMGET', blk, 'ref', 'reason', 'created', 'created_by', 'unblock')
    return {'created', created, 'ref', r[1], 'reason', r[2], 'created_at', tonumber(r[3]),
            'created_by', r[4], 'unblock', r[5]}
end

if redis.call('EXISTS', blk) == 1 then
    return reply(0)
end

redis.call('HSET', blk, 'ref', ARGV[1], 'state', 'blocked', 'reason', ARGV[2],
    'score', ARGV[3], 'rules', ARGV[4], 'created', ARGV[5], 'created_by', ARGV[6],
    'unblock', ARGV[7], 'expires', ARGV[8], 'mailbox', ARGV[9],
    'refused', 0)
redis.call('LPUSH', hist, cjson.encode({
    event = 'block', ref = ARGV[1], at = tonumber(ARGV[5]), reason = ARGV[2],
    by = ARGV[6], score = tonumber(ARGV[3]), rules = ARGV[4], unblock = ARGV[7]}))
redis.call('LTRIM', hist, 0, tonumber(ARGV[10]) - 1)
redis.call('EXPIRE', hist, tonumber(ARGV[11]))
return reply(1)
