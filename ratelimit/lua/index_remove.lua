-- index_remove.lua - take a mailbox out of the index of blocked mailboxes, but only the
-- entry of the block that was cleared: compare-and-delete on its score (created-at), so
-- that an index entry of a newer block written meanwhile stays.
--
-- KEYS[1]  the index: sorted set, member = normalised mailbox, score = created-at
-- ARGV[1]  the mailbox
-- ARGV[2]  created-at of the block that was cleared (unix seconds)
--
-- Returns {"removed", 0|1}.

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
    return {'removed', redis.call('ZREM', KEYS[1], ARGV[1])}
end
return {'removed', 0}
