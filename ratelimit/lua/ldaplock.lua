-- ldaplock.lua - take or renew the LDAP poll lock, so that of several policyd nodes
-- sharing one Redis only one polls the directory.
--
-- KEYS[1]  the lock ("<prefix>1:ldappoll")
-- ARGV[1]  this process's token
-- ARGV[2]  time to live, milliseconds (a node that stops renewing loses it)
--
-- Returns {"owner", 1} when the lock is (now) the caller's, else {"owner", 0}.

local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
    return {'owner', 1}
end
return {'owner', 0}
