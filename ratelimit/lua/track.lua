--[[
NAME
    track.lua - count one policy request of one mailbox and return its signals

SYNOPSIS
    EVALSHA <sha> 6 st kr kd net ovr blk  api now_ms state instance rcpt_hash dom_hash
        network sender_mismatch size recipient_count lim_rcpt_hour lim_rcpt_day
        lim_msg_hour lim_msg_day limit_src dom_exempt dom_profile memory_days
        rcpt_memory_max dom_memory_max nets_max state_days

KEYS (all of one mailbox, one hash tag: "<prefix>1:{<mailbox>}:<suffix>")
    KEYS[1] st   hash    counters: rings of 5-minute, hourly and daily buckets, the 28-day
                         baseline, first_seen, the two most recent messages;
                         probation_until (written by the unblock script); nl, the last
                         day (epoch day number) with a HOLD or BLOCK verdict, written by
                         decide: that day is left out of the baseline; m, the
                         memory signals as of the last write (see mem_signals)
    KEYS[2] kr   string  known recipients: 7-byte records (4 bytes of the recipient's
                         keyed hash, 3 of the 5-minute bucket it was last mailed in),
                         sorted by that bucket
    KEYS[3] kd   string  known recipient domains, same records
    KEYS[4] net  hash    client network ("192.0.2.0/24") -> "last:first" 5-minute buckets
    KEYS[5] ovr  hash    the mailbox's overrides; only read here
    KEYS[6] blk  hash    the block record (ref, reason, created); only read here

ARGV
    [1]  api              "1": the layout of this argv (trackargs.c); anything else fails
    [2]  now_ms           the caller's clock: this script never reads one
    [3]  state            protocol_state: RCPT counts; DATA and END-OF-MESSAGE record the
                          message's final recipient count; anything else only reads
    [4]  instance         Postfix's transaction id: one message
    [5]  rcpt_hash        16 hex digits of the keyed hash of the recipient, or ""
    [6]  dom_hash         the same for its domain, or ""
    [7]  network          the client network as text; "unknown" when there is none
    [8]  sender_mismatch  1 when the envelope sender is not the login's
    [9]  size             message size (not used yet; keeps the argv stable)
    [10] recipient_count  Postfix's recipient count (DATA, END-OF-MESSAGE)
    [11..14]              lim_rcpt_hour lim_rcpt_day lim_msg_hour lim_msg_day: the caps of
                          the mailbox's domain or the defaults; 0 = off
    [15] limit_src        where those come from: 0 default, 1 domain
    [16] dom_exempt       1 when the mailbox's domain is exempt
    [17] dom_profile      the domain's profile, or ""
    [18] memory_days      recipients, domains, networks not seen for this long are forgotten
    [19] rcpt_memory_max  most recipients remembered (the least recently mailed go first)
    [20] dom_memory_max   most domains remembered
    [21] nets_max         most networks remembered (the least recently seen go first)
    [22] state_days       TTL of st (its daily ring spans 35 days)

RETURNS
    The signals of ratelimit/signals.h: "@" and then every value in the order of signals.h
    (positional: half the elements of name/value pairs, and Redis converts each element
    of a Lua reply at some 600 instructions). A blocked mailbox gets name/value pairs
    instead: blocked, block_ref, block_reason, block_created and nothing else.
    Counts include the request just counted; times are unix seconds. limit_src is where
    the cap that was hit comes from when the request is capped (a mailbox that overrides
    only its day cap is capped by the default hour cap), else the highest source in force.

NOTES
    Buckets are numbered from the epoch (floor(now / width)), so every node agrees on
    them and a replay of days of traffic in minutes gives the same counts. A ring of n
    buckets keeps its newest bucket, the total of its window and the current bucket's
    counters in one field; finished buckets wait in slot fields ("f3" holds the bucket
    b with b % 12 == 3) until they leave the window, when they are subtracted from the
    total and deleted, however far time jumped. Numbers are packed with struct.pack: one
    C call per field instead of Lua work per number (this script runs for every RCPT).

    Cost (scripts/bench/script-cost.sh): every redis.call, table and string counts. Most
    requests take fast paths that change no result: one EXISTS stands for the block and
    override reads when the mailbox has neither; rings already at their newest bucket are
    not planned; a DATA or END-OF-MESSAGE that would write st back unchanged writes
    nothing (it is then, like any request that counts nothing, not a TTL refresh).
]]

-- ring fields: bucket, total[7], current[7]; slot fields: counters[7]
local RING_FMT = '<I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4'
local SLOT_FMT = '<I3I3I3I3I3I3I3'
-- the day field: bucket, today[4], baseline[5], first_seen, recipients of i0 and i1
local DAY_FMT = '<I4I4I4I4I4I4I4I4I4I4I4I4I4'
local DSLOT_FMT = '<I3I3I3I3'
local SLOT_MAX = 16777215 -- what 3 bytes hold; a bucket never gets near it
-- counters of the 'f' and 'h' rings: total at v[1 + i], current bucket at v[8 + i]
local RCPT, MSGS, REFUSED, NEW_RCPT, NEW_DOM, NEW_NET, MISMATCH = 1, 2, 3, 4, 5, 6, 7
-- the day field: today's counters at d[1 + i], baseline at d[5 + i]
local D_RCPT, D_MSGS, D_MAX_HOUR, D_MAX_MSG = 1, 2, 3, 4
local B_MAX_HOUR, B_MAX_DAY, B_MAX_MSG, B_DAYS, B_MSGS = 1, 2, 3, 4, 5
local D_FIRST_SEEN, D_C0, D_C1 = 11, 12, 13
local REC = 7 -- bytes per record of a recipient or domain memory
local floor = math.floor
local NO_BLOCK = {false, false, false}
-- slot field names by slot (1-based): "f" .. k costs a number-to-string conversion each
local SLOTS = {
    f = {'f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9', 'f10', 'f11'},
    h = {'h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'h10', 'h11', 'h12', 'h13',
         'h14', 'h15', 'h16', 'h17', 'h18', 'h19', 'h20', 'h21', 'h22', 'h23'},
}

------------------------------------------------------------------------------ arguments

local function parse_args()
    if ARGV[1] ~= '1' then return nil, 'track.lua: argv layout "' .. tostring(ARGV[1]) .. '"' end
    local now, mismatch, count, c1, c2, c3, c4, src, exempt, mdays, rmax, dmax, nmax, sdays =
        tonumber(ARGV[2]), tonumber(ARGV[8]), tonumber(ARGV[10]), tonumber(ARGV[11]),
        tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15]),
        tonumber(ARGV[16]), tonumber(ARGV[18]), tonumber(ARGV[19]), tonumber(ARGV[20]),
        tonumber(ARGV[21]), tonumber(ARGV[22])
    if not (now and mismatch and count and c1 and c2 and c3 and c4 and src and exempt and mdays
            and rmax and dmax and nmax and sdays) then
        return nil, 'track.lua: a numeric argument is not a number'
    end
    local a = {
        now = floor(now / 1000), state = ARGV[3], instance = ARGV[4], rcpt = ARGV[5],
        dom = ARGV[6], net = ARGV[7], mismatch = mismatch == 1, rcpt_count = count,
        caps = {c1, c2, c3, c4}, src = src, dom_exempt = exempt == 1,
        dom_profile = ARGV[17], memory_days = mdays, rcpt_max = rmax, dom_max = dmax,
        nets_max = nmax, state_ttl = sdays * 86400000, memory_ttl = mdays * 86400000,
    }
    -- long ids would bloat the st hash (and convert it out of its listpack form)
    if #a.instance > 40 then a.instance = redis.sha1hex(a.instance) end
    return a
end

------------------------------------------------------------------------------ limits

-- effective_limits - mailbox override > domain or default (ARGV); a raise wins until
-- raise_until has passed, after which it is ignored. Source 2 = mailbox, 3 = raise.
-- Each cap keeps its own source (srcs), so that a cap inherited from the defaults is
-- reported as such when it is the one hit; src is the highest of them.
local function default_limits(a)
    return {caps = a.caps, src = a.src, srcs = {a.src, a.src, a.src, a.src},
            exempt = a.dom_exempt, profile = a.dom_profile}
end

local function effective_limits(a, key)
    local o = redis.call('HMGET', key, 'exempt', 'profile', 'lim_rcpt_hour', 'lim_rcpt_day',
                         'lim_msg_hour', 'lim_msg_day', 'raise_until', 'raise_rcpt_hour',
                         'raise_rcpt_day', 'raise_msg_hour', 'raise_msg_day')
    local lim = default_limits(a)
    if not (o[1] or o[2] or o[3] or o[4] or o[5] or o[6] or o[7]) then return lim end
    local raise_on = (tonumber(o[7]) or 0) > a.now
    lim.caps = {}
    for i = 1, 4 do
        local mailbox, raised = tonumber(o[2 + i]), raise_on and tonumber(o[7 + i])
        lim.caps[i] = raised or mailbox or a.caps[i]
        if raised then lim.srcs[i] = 3 elseif mailbox then lim.srcs[i] = 2 end
        lim.src = math.max(lim.src, lim.srcs[i])
    end
    if o[1] then lim.exempt = o[1] == '1' end
    if o[2] then lim.profile = o[2] end
    return lim
end

------------------------------------------------------------------------------ rings

-- ring_plan - where a ring moves for 'now', and the slot fields the move must read.
local function ring_plan(t, now, width, n, name, want)
    local p = {b = floor(now / width), t = t, n = n, name = name, slots = SLOTS[name]}
    if t == 0 then
        p.fresh = true
    elseif p.b <= t then
        p.b = t -- not moved; a node whose clock is behind counts into the newest bucket
    elseif p.b - t >= n then
        p.reset = true -- idle longer than the ring: nothing in it is still in the window
    elseif p.slots then
        for k = t + 1, p.b do want[#want + 1] = p.slots[k % n + 1] end
    end
    return p
end

-- ring_move - apply a plan to ring v: the finished bucket goes to its slot, the slots
-- of buckets that left the window are subtracted from the total and deleted.
local function ring_move(v, p, vals, set, del)
    if p.b == p.t then return end
    v[1] = p.b
    if p.fresh then return end
    if p.reset then
        -- the slots still stored sum to total - current: when that is 0, there are none
        if v[2] + v[3] + v[4] + v[5] + v[6] + v[7] + v[8] >
           v[9] + v[10] + v[11] + v[12] + v[13] + v[14] + v[15] then
            for k = 1, p.n do del[#del + 1] = p.slots[k] end
        end
        for i = 2, 15 do v[i] = 0 end
        return
    end
    if v[9] + v[10] + v[11] + v[12] + v[13] + v[14] + v[15] > 0 then
        set[#set + 1] = p.slots[p.t % p.n + 1]
        set[#set + 1] = struct.pack(SLOT_FMT, math.min(v[9], SLOT_MAX), math.min(v[10], SLOT_MAX),
                                    math.min(v[11], SLOT_MAX), math.min(v[12], SLOT_MAX),
                                    math.min(v[13], SLOT_MAX), math.min(v[14], SLOT_MAX),
                                    math.min(v[15], SLOT_MAX))
    end
    for k = p.t + 1, p.b do
        local f = p.slots[k % p.n + 1]
        if vals[f] then
            local s = {struct.unpack(SLOT_FMT, vals[f])}
            for i = 1, 7 do v[1 + i] = math.max(v[1 + i] - s[i], 0) end
            del[#del + 1] = f
        end
    end
    for i = 9, 15 do v[i] = 0 end
end

-- day_move - the daily ring: yesterday goes to its slot, and the baseline of the 28 days
-- before today is computed once, as those days no longer change.
local function day_move(d, p, vals, set, del, frozen)
    if p.b == p.t then return end
    d[1] = p.b
    if p.fresh then return end
    -- a day on which the mailbox was held or blocked is not learned: its traffic is
    -- suspect (detection.md: no learning while held or blocked)
    local learn = frozen ~= p.t
    local base = {0, 0, 0, 0, 0}
    for day = p.b - 28, p.b - 1 do
        local v = nil
        if day == p.t then
            if learn then v = {d[2], d[3], d[4], d[5]} end
        elseif not p.reset and day < p.t and day > p.t - p.n and vals['d' .. (day % p.n)] then
            v = {struct.unpack(DSLOT_FMT, vals['d' .. (day % p.n)])}
        end
        if v then
            base[B_MAX_HOUR] = math.max(base[B_MAX_HOUR], v[D_MAX_HOUR])
            base[B_MAX_DAY] = math.max(base[B_MAX_DAY], v[D_RCPT])
            base[B_MAX_MSG] = math.max(base[B_MAX_MSG], v[D_MAX_MSG])
            if v[D_RCPT] + v[D_MSGS] > 0 then base[B_DAYS] = base[B_DAYS] + 1 end
            base[B_MSGS] = base[B_MSGS] + v[D_MSGS]
        end
    end
    if not p.reset and learn and d[2] + d[3] > 0 then
        set[#set + 1] = 'd' .. (p.t % p.n)
        set[#set + 1] = struct.pack(DSLOT_FMT, math.min(d[2], SLOT_MAX), math.min(d[3], SLOT_MAX),
                                    math.min(d[4], SLOT_MAX), math.min(d[5], SLOT_MAX))
    end
    if p.reset then
        for k = 0, p.n - 1 do del[#del + 1] = 'd' .. k end
    else
        for k = p.t + 1, p.b do
            if vals['d' .. (k % p.n)] then del[#del + 1] = 'd' .. (k % p.n) end
        end
    end
    for i = 1, 4 do d[1 + i] = 0 end
    for i = 1, 5 do d[5 + i] = base[i] end
end

------------------------------------------------------------------------------ state

-- state_load - the st hash with every ring moved to 'now' (in memory only: a request
-- that counts nothing writes nothing).
local function state_load(key, now)
    local raw = redis.call('HMGET', key, 'f', 'h', 'd', 'i0', 'i1', 'probation_until', 'nl', 'm')
    -- a field of another length is not ours (or an older layout): start it again
    local rf = #(raw[1] or '') == 60 and {struct.unpack(RING_FMT, raw[1])}
               or {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
    local rh = #(raw[2] or '') == 60 and {struct.unpack(RING_FMT, raw[2])}
               or {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
    local rd = #(raw[3] or '') == 52 and {struct.unpack(DAY_FMT, raw[3])}
               or {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
    -- every field in the constructor: a table that grows is rebuilt at each power of two
    local st = {key = key, i0 = raw[4] or nil, i1 = raw[5] or nil, set = {}, del = {},
                probation_until = tonumber(raw[6]) or 0, m = raw[8] or nil, f = rf, h = rh,
                d = rd, history = rd[D_FIRST_SEEN] > 0, moved = false, msgs_changed = false,
                m_new = false}
    local f, h, d = rf[1], rh[1], rd[1]
    if f ~= 0 and h ~= 0 and d ~= 0 and floor(now / 300) <= f and floor(now / 3600) <= h
       and floor(now / 86400) <= d then
        return st -- every ring is at its newest bucket already (most requests)
    end
    st.moved = true
    local want = {}
    local pf = ring_plan(st.f[1], now, 300, 12, 'f', want)
    local ph = ring_plan(st.h[1], now, 3600, 24, 'h', want)
    local pd = ring_plan(st.d[1], now, 86400, 35, 'd', {})
    if pd.b ~= pd.t and not pd.fresh and not pd.reset then
        for k = 0, 34 do want[#want + 1] = 'd' .. k end -- the baseline reads them all
    end
    local vals = {}
    if #want > 0 then
        local got = redis.call('HMGET', key, unpack(want))
        for i = 1, #want do vals[want[i]] = got[i] or nil end
    end
    ring_move(st.f, pf, vals, st.set, st.del)
    ring_move(st.h, ph, vals, st.set, st.del)
    day_move(st.d, pd, vals, st.set, st.del, tonumber(raw[7]))
    return st
end

-- state_save - write back the rings, the slots they finished or dropped, the messages;
-- refresh the TTL when a ring moved.
local function state_save(st, now, ttl)
    local d = st.d
    if d[D_FIRST_SEEN] == 0 then d[D_FIRST_SEEN] = now end
    local set = st.set
    set[#set + 1] = 'f'
    set[#set + 1] = struct.pack(RING_FMT, unpack(st.f, 1, 15))
    set[#set + 1] = 'h'
    set[#set + 1] = struct.pack(RING_FMT, unpack(st.h, 1, 15))
    set[#set + 1] = 'd'
    set[#set + 1] = struct.pack(DAY_FMT, unpack(d, 1, 13))
    if st.msgs_changed then
        if st.i0 then set[#set + 1] = 'i0'; set[#set + 1] = st.i0 end
        if st.i1 then set[#set + 1] = 'i1'; set[#set + 1] = st.i1 end
    end
    if st.m_new then set[#set + 1] = 'm'; set[#set + 1] = st.m_new end
    if #st.del > 0 then redis.call('HDEL', st.key, unpack(st.del)) end
    redis.call('HSET', st.key, unpack(set))
    -- the TTL (state_days) is refreshed when a ring moves, at most once per 5-minute
    -- bucket; writes in between keep it (a key without f, h and d always moves)
    if st.moved then redis.call('PEXPIRE', st.key, ttl) end
end

-- count - n more of counter i in both rings (the current bucket and the window total).
local function count(st, i, n)
    local f, h = st.f, st.h
    f[1 + i] = f[1 + i] + n
    f[8 + i] = f[8 + i] + n
    h[1 + i] = h[1 + i] + n
    h[8 + i] = h[8 + i] + n
end

------------------------------------------------------------------------------ messages

-- The two most recent messages (instance; recipients so far in the day field), so two
-- sessions of one mailbox sending at the same time still count each message once.
local function msg_slot(st, instance)
    if st.i0 == instance then return 0 end
    if st.i1 == instance then return 1 end
    return nil
end

-- msg_add - one more recipient of 'instance'; returns its recipients so far.
local function msg_add(st, instance)
    local d, slot = st.d, msg_slot(st, instance)
    if slot ~= 0 then
        st.msgs_changed = true
        if slot == 1 then
            st.i0, st.i1, d[D_C0], d[D_C1] = st.i1, st.i0, d[D_C1], d[D_C0]
        else
            st.i1, d[D_C1] = st.i0, d[D_C0]
            st.i0, d[D_C0] = instance, 0
        end
    end
    d[D_C0] = d[D_C0] + 1
    return d[D_C0]
end

------------------------------------------------------------------------------ memories

-- A memory is a string of 7-byte records: 4 bytes of a keyed hash, then the 5-minute
-- bucket it was last seen in (3 bytes, big-endian), sorted by that bucket. Sorted, the
-- records seen since any moment are a suffix (binary search): the exact distinct counts
-- of the last hour and day; forgetting the least recently seen is cutting a prefix.
-- 4 bytes of hash make a false "known" about n / 2^32 likely.

local function hash4(hex)
    if not string.find(hex, '^%x%x%x%x%x%x%x%x') then return nil end
    return struct.pack('>I4', tonumber(string.sub(hex, 1, 8), 16))
end

local function mem_bucket(blob, i)
    local x, y, z = string.byte(blob, i * REC + 5, i * REC + 7)
    return (x * 256 + y) * 256 + z
end

-- mem_since - how many records were seen in bucket 'from' or later.
local function mem_since(blob, from)
    local lo, hi = 0, #blob / REC
    local n = hi
    while lo < hi do
        local mid = floor((lo + hi) / 2)
        if mem_bucket(blob, mid) < from then lo = mid + 1 else hi = mid end
    end
    return n - lo
end

local function mem_get(key)
    local blob = redis.call('GET', key) or ''
    if #blob % REC ~= 0 then blob = '' end -- not ours: start again rather than misread
    return blob
end

-- mem_see - record that h4 was seen in bucket b, forgetting what was last seen before
-- 'oldest' and the least recently seen beyond 'max'; write the key if it changed.
-- Returns whether h4 was known, and the memory as it is now.
local function mem_see(key, h4, b, oldest, max, ttl)
    local blob = mem_get(key)
    local orig = blob
    local n = #blob / REC
    local gone = n > 0 and mem_bucket(blob, 0) < oldest and n - mem_since(blob, oldest) or 0
    if gone > 0 then
        blob = string.sub(blob, gone * REC + 1)
        n = n - gone
    end
    if n > 0 then -- keep the order
        local last = mem_bucket(blob, n - 1)
        if last > b then b = last end
    end
    local i, init = nil, 1
    repeat -- a match must start on a record boundary
        local p = string.find(blob, h4, init, true)
        if p and (p - 1) % REC == 0 then i = (p - 1) / REC end
        init = p and p + 1
    until i or not p
    if i == nil or mem_bucket(blob, i) ~= b then -- same bucket: the records after it are too
        if i then
            blob = string.sub(blob, 1, i * REC) .. string.sub(blob, (i + 1) * REC + 1)
        elseif n >= max then
            blob = string.sub(blob, (n - max + 1) * REC + 1)
        end
        blob = blob .. h4 .. string.char(floor(b / 65536) % 256, floor(b / 256) % 256, b % 256)
    end
    if blob ~= orig then redis.call('SET', key, blob, 'PX', ttl) end
    return i ~= nil, blob
end

------------------------------------------------------------------------------ networks

-- nets_see - the mailbox's networks (network -> "last:first" 5-minute buckets; an older
-- plain "last" reads as first = last), with this request's network added when 'add'.
-- Returns whether it was new, the table of last buckets, and the first bucket of 'net'.
local function nets_see(key, net, b, add, max, ttl)
    local flat = redis.call('HGETALL', key)
    local seen, first = {}, {}
    for i = 1, #flat, 2 do
        local l, f = string.match(flat[i + 1], '^(%d+):?(%d*)$')
        l = tonumber(l) or 0
        seen[flat[i]] = l
        first[flat[i]] = tonumber(f) or l
    end
    if not add or net == 'unknown' or net == '' then return false, seen, first[net] end
    local prev = seen[net]
    if prev == nil and #flat / 2 >= max then -- full: forget the least recently seen
        local oldest = nil -- of two seen in the same bucket, the lower name (not pairs' order)
        for k, v in pairs(seen) do
            if oldest == nil or v < seen[oldest] or (v == seen[oldest] and k < oldest) then
                oldest = k
            end
        end
        redis.call('HDEL', key, oldest)
        seen[oldest] = nil
    end
    if prev == nil or prev < b then
        seen[net] = b
        first[net] = first[net] or b
        redis.call('HSET', key, net, b .. ':' .. first[net])
        redis.call('PEXPIRE', key, ttl)
    end
    return prev == nil, seen, first[net]
end

------------------------------------------------------------------------------ requests

-- The memory signals: distinct recipients and domains per window, networks. They read
-- the three memory keys, which change only when a recipient is counted, and that writes
-- st too: with that write goes field m, these signals as they were then (with the ring
-- buckets they were read at and the client network they name). A request that counts
-- nothing (DATA, END-OF-MESSAGE, a capped RCPT: over a third of the traffic) in the same
-- 5-minute bucket, from the same network, finds them there, exact, without the reads.
local M_FMT = '<I4I4I4I4I4I4I4I4I4I4I4'
local M_LEN = 44

-- mem_cached - field m as {distinct_rcpt_1h, distinct_rcpt_24h, distinct_dom_1h,
-- nets_1h, nets_24h, known_nets, known_rcpts, net_first, recorded} when it was written
-- in the current buckets for this request's network, else nil. recorded is 1 when a
-- counted request wrote it: this network is then already in net at this bucket, and
-- nets_see() would find it there and change nothing (any counted request since, from
-- another network, would have written m again).
local function mem_cached(a, st)
    local m = st.m
    if not m or #m < M_LEN then return nil end
    local b5, b1h, r1, r24, d1, n1, n24, kn, krc, nf, rec = struct.unpack(M_FMT, m)
    if b5 ~= st.f[1] or b1h ~= st.h[1] or string.sub(m, M_LEN + 1) ~= a.net then return nil end
    return {r1, r24, d1, n1, n24, kn, krc, nf, rec}
end

-- mem_signals - {distinct_rcpt_1h, distinct_rcpt_24h, distinct_dom_1h, nets_1h, nets_24h,
-- known_nets, known_rcpts, net_first (5-minute bucket)}, and whether it was read afresh.
local function mem_signals(a, st, keys, out)
    local f1, h1 = st.f[1], st.h[1]
    if out.counted ~= 1 then
        local c = mem_cached(a, st)
        if c then return c, false end
    end
    local from_1h = f1 - 11
    local from_24h = (h1 - 23) * 12 -- the first 5-minute bucket of the hourly window
    local kr = out.kr or mem_get(keys[2])
    local kd = out.kd or mem_get(keys[3])
    local nc = out.nets_cached
    local nets_1h, nets_24h, known_nets, net_first = 0, 0, 0, out.net_first
    if nc then
        nets_1h, nets_24h, known_nets, net_first = nc[4], nc[5], nc[6], nc[8]
    else
        local nets = out.nets
        if not nets then
            local _
            _, nets, net_first = nets_see(keys[4], a.net, f1, false)
        end
        for _, b in pairs(nets) do
            known_nets = known_nets + 1
            if b >= from_1h then nets_1h = nets_1h + 1 end
            if b >= from_24h then nets_24h = nets_24h + 1 end
        end
    end
    return {mem_since(kr, from_1h), mem_since(kr, from_24h), mem_since(kd, from_1h), nets_1h,
            nets_24h, known_nets, #kr / REC, net_first or 0}, true
end

-- mem_keep - the memory signals go into field m with the next write of st; recorded
-- when this request was counted (its network is then in net at this bucket).
local function mem_keep(a, st, ms, out)
    st.m_new = struct.pack(M_FMT, st.f[1], st.h[1], ms[1], ms[2], ms[3], ms[4], ms[5], ms[6],
                           ms[7], ms[8], out.counted == 1 and 1 or 0) .. a.net
end

-- cap_hit - the first cap (enum signals_cap) this request would cross: the count before
-- it, plus one, over a cap that is not 0. Message caps count new messages only.
local function cap_hit(st, caps, msg_new)
    local counts = {st.f[1 + RCPT], st.h[1 + RCPT], st.f[1 + MSGS], st.h[1 + MSGS]}
    for i = 1, 4 do
        if caps[i] > 0 and (i <= 2 or msg_new) and counts[i] + 1 > caps[i] then
            return i, caps[i], counts[i]
        end
    end
    return nil
end

-- count_rcpt - an accepted recipient: every window, the message, the memories.
local function count_rcpt(a, st, keys, out)
    local d, b5 = st.d, st.f[1]
    local oldest = b5 - a.memory_days * 288
    count(st, RCPT, 1)
    if out.msg_new == 1 then
        count(st, MSGS, 1)
        d[1 + D_MSGS] = d[1 + D_MSGS] + 1
    end
    out.rcpt_this_msg = msg_add(st, a.instance)
    d[1 + D_RCPT] = d[1 + D_RCPT] + 1
    if st.h[8 + RCPT] > d[1 + D_MAX_HOUR] then d[1 + D_MAX_HOUR] = st.h[8 + RCPT] end
    if out.rcpt_this_msg > d[1 + D_MAX_MSG] then d[1 + D_MAX_MSG] = out.rcpt_this_msg end
    if a.mismatch then count(st, MISMATCH, 1) end
    local known, h4 = true, hash4(a.rcpt)
    if h4 then
        known, out.kr = mem_see(keys[2], h4, b5, oldest, a.rcpt_max, a.memory_ttl)
        if st.history and not known then out.rcpt_new = 1; count(st, NEW_RCPT, 1) end
    end
    h4 = hash4(a.dom)
    if h4 then
        known, out.kd = mem_see(keys[3], h4, b5, oldest, a.dom_max, a.memory_ttl)
        if st.history and not known then out.rcpt_dom_new = 1; count(st, NEW_DOM, 1) end
    end
    -- the network: not read again when this bucket's counted request from it wrote m
    local c = mem_cached(a, st)
    if c and c[9] == 1 then
        out.nets_cached = c
    else
        local new
        new, out.nets, out.net_first = nets_see(keys[4], a.net, b5, true, a.nets_max,
                                                a.memory_ttl)
        if st.history and new then out.net_new = 1; count(st, NEW_NET, 1) end
    end
    out.counted = 1
end

-- record_final - DATA / END-OF-MESSAGE: Postfix's own recipient count makes the day's
-- largest message exact; nothing is counted again. Returns whether st must be written.
local function record_final(a, st, out)
    local d, n = st.d, a.rcpt_count
    local slot, changed = msg_slot(st, a.instance), false
    if slot and n > 0 and d[D_C0 + slot] ~= n then
        d[D_C0 + slot] = n
        changed = true
    end
    if slot then out.rcpt_this_msg = d[D_C0 + slot] end
    if n > d[1 + D_MAX_MSG] then
        d[1 + D_MAX_MSG] = n
        return true
    end
    -- a count Postfix confirms, on a state whose rings are current and that has its
    -- first_seen, would be written back unchanged: only its TTL would move
    return slot ~= nil and n > 0 and (changed or st.moved or d[D_FIRST_SEEN] == 0)
end

------------------------------------------------------------------------------ reply

-- reply - every signal of signals.h, read from the state as it is now.
local function reply(st, lim, out, ms)
    local f, h, d = st.f, st.h, st.d
    -- positional: "@", then every signal of signals.h in its order (SIGNALS_INTS, then
    -- SIGNALS_STRS), one per line, named by its comment (test_signals checks the order)
    return {
        '@',
        0, -- blocked
        0, -- block_created
        st.probation_until, -- probation_until
        lim.exempt and 1 or 0, -- exempt
        out.capped or 0, -- capped
        out.cap_limit or 0, -- cap_limit
        out.cap_value or 0, -- cap_value
        out.cap_src or lim.src, -- limit_src
        lim.caps[1], -- lim_rcpt_hour
        lim.caps[2], -- lim_rcpt_day
        lim.caps[3], -- lim_msg_hour
        lim.caps[4], -- lim_msg_day
        out.counted or 0, -- counted
        out.msg_new, -- msg_new
        out.rcpt_this_msg, -- rcpt_this_msg
        out.rcpt_new or 0, -- rcpt_new
        out.rcpt_dom_new or 0, -- rcpt_dom_new
        out.net_new or 0, -- net_new
        ms[8] * 300, -- net_first_seen
        f[1 + RCPT], -- rcpt_1h
        h[1 + RCPT], -- rcpt_24h
        f[1 + MSGS], -- msgs_1h
        h[1 + MSGS], -- msgs_24h
        f[1 + REFUSED], -- refused_1h
        h[1 + REFUSED], -- refused_24h
        ms[1], -- distinct_rcpt_1h
        ms[2], -- distinct_rcpt_24h
        f[1 + NEW_RCPT], -- new_rcpt_1h
        h[1 + NEW_RCPT], -- new_rcpt_24h
        ms[3], -- distinct_dom_1h
        f[1 + NEW_DOM], -- new_dom_1h
        h[1 + NEW_DOM], -- new_dom_24h
        ms[4], -- distinct_nets_1h
        ms[5], -- distinct_nets_24h
        f[1 + NEW_NET], -- new_nets_1h
        h[1 + NEW_NET], -- new_nets_24h
        ms[6], -- known_nets
        ms[7], -- known_rcpts
        f[1 + MISMATCH], -- sender_mismatch_1h
        d[5 + B_MAX_HOUR], -- base_max_hour_rcpt
        d[5 + B_MAX_DAY], -- base_max_day_rcpt
        d[5 + B_MAX_MSG], -- base_max_msg_rcpt
        d[5 + B_DAYS], -- base_days
        d[5 + B_MSGS], -- base_msgs
        d[D_FIRST_SEEN], -- first_seen
        '', -- block_ref
        '', -- block_reason
        lim.profile, -- profile
    }
end

------------------------------------------------------------------------------ main

local function main()
    local a, err = parse_args()
    if a == nil then return redis.error_reply(err) end
    local counting = a.state == 'RCPT'

    -- 1. a blocked mailbox: count the refused attempt, answer with the block, nothing else
    --    (most mailboxes have neither a block nor overrides: one EXISTS answers for both)
    local blk, lim = NO_BLOCK, nil
    if redis.call('EXISTS', KEYS[6], KEYS[5]) == 0 then
        lim = default_limits(a)
    else
        blk = redis.call('HMGET', KEYS[6], 'ref', 'reason', 'created')
    end
    if blk[1] or blk[2] or blk[3] then
        if counting then
            local st = state_load(KEYS[1], a.now)
            count(st, REFUSED, 1)
            state_save(st, a.now, a.state_ttl)
            redis.call('HINCRBY', KEYS[6], 'refused', 1) -- the block's own tally (alerts)
        end
        return {'blocked', 1, 'block_ref', blk[1] or '', 'block_reason', blk[2] or '',
                'block_created', tonumber(blk[3]) or 0}
    end

    -- 2. the caps in force, and whether this request would cross one
    lim = lim or effective_limits(a, KEYS[5])
    local st = state_load(KEYS[1], a.now)
    local slot = msg_slot(st, a.instance)
    -- every field in the constructor (false: not set), as for st
    local out = {msg_new = 0, rcpt_this_msg = slot and st.d[D_C0 + slot] or 0, capped = false,
                 cap_limit = false, cap_value = false, cap_src = false, counted = false,
                 rcpt_new = false, rcpt_dom_new = false, net_new = false, kr = false,
                 kd = false, nets = false, net_first = false, nets_cached = false}
    local dirty = counting
    if counting then
        out.msg_new = slot == nil and 1 or 0
        local cap, limit, value = nil, nil, nil
        if not lim.exempt then cap, limit, value = cap_hit(st, lim.caps, slot == nil) end
        if cap then
            out.capped, out.cap_limit, out.cap_value = cap, limit, value
            out.cap_src = lim.srcs[cap]
            count(st, REFUSED, 1)
        else
            -- 3. count it (the memories and networks write themselves, with their TTL)
            count_rcpt(a, st, KEYS, out)
        end
    elseif a.state == 'DATA' or a.state == 'END-OF-MESSAGE' then
        dirty = record_final(a, st, out)
    end
    -- 4. the memory signals; st is written with its TTL, only when something changed, and
    --    then with them when they were read afresh
    local ms, fresh = mem_signals(a, st, KEYS, out)
    if dirty then
        if fresh then mem_keep(a, st, ms, out) end
        state_save(st, a.now, a.state_ttl)
    end
    -- 5. the signals
    return reply(st, lim, out, ms)
end

return main()
