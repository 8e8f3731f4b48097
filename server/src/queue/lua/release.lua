--[[
  Hands jobs back to the head of wait untouched (no attempt spent): a worker shutting down while
  the database is unavailable releases what it holds.

  KEYS[1] active   KEYS[2] wait   KEYS[3] events   KEYS[4] marker
  ARGV[1] job key prefix   ARGV[2] lock token   ARGV[3..] job ids
  Returns how many were released.
]]
local rcall = redis.call
local n = 0
for i = 3, #ARGV do
  local jobId = ARGV[i]
  local lockKey = ARGV[1] .. jobId .. ":lock"
  if rcall("GET", lockKey) == ARGV[2] and rcall("LREM", KEYS[1], -1, jobId) > 0 then
    rcall("DEL", lockKey)
    rcall("RPUSH", KEYS[2], jobId)
    rcall("XADD", KEYS[3], "*", "event", "waiting", "jobId", jobId, "prev", "active")
    n = n + 1
  end
end
if n > 0 then rcall("ZADD", KEYS[4], 0, "0") end
return n
