--[[
  Extends the locks this worker still holds, so long database waits do not look like a crash.

  KEYS[1] active (unused: it routes the call to the queue's slot in Redis Cluster)
  ARGV[1] job key prefix   ARGV[2] lock token   ARGV[3] lock ms   ARGV[4..] job ids
  Returns how many locks were extended.
]]
local rcall = redis.call
local n = 0
for i = 4, #ARGV do
  local lockKey = ARGV[1] .. ARGV[i] .. ":lock"
  if rcall("GET", lockKey) == ARGV[2] then
    rcall("PEXPIRE", lockKey, ARGV[3])
    n = n + 1
  end
end
return n
