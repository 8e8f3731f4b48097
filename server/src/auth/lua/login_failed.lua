--[[
  Counts one failed login for one key (an account or a client IP) and, once the failures in the
  window reach the limit, locks the key: the first lock lasts ARGV[3] seconds, each further
  failure doubles it, up to ARGV[4] seconds (exponential back-off). The counter outlives the
  lock by a window, so a failure soon after a lock ends doubles it.

  KEYS[1] failure counter   KEYS[2] lock
  ARGV[1] window (s)   ARGV[2] failures allowed   ARGV[3] first lock (s)   ARGV[4] longest lock (s)

  Returns the lock's length in seconds, 0 when the key is not locked.
]]
local rcall = redis.call
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local first, longest = tonumber(ARGV[3]), tonumber(ARGV[4])
local n = rcall("INCR", KEYS[1])
if n == 1 then
  rcall("EXPIRE", KEYS[1], window)
end
if n < limit then
  return 0
end
local lock = math.min(first * 2 ^ math.min(n - limit, 30), longest)
lock = math.max(math.floor(lock), 1)
rcall("SET", KEYS[2], n, "EX", lock)
if rcall("TTL", KEYS[1]) < lock + window then
  rcall("EXPIRE", KEYS[1], lock + window)
end
return lock
