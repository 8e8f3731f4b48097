--[[
  Dead-letter retry: moves up to N failed jobs back to wait with fresh attempts.

  KEYS[1] failed   KEYS[2] wait   KEYS[3] events   KEYS[4] marker
  ARGV[1] job key prefix   ARGV[2] max jobs   ARGV[3..] optional job ids (all when absent)
  Returns the ids moved.
]]
local rcall = redis.call
local ids
if #ARGV >= 3 then
  ids = {}
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = rcall("ZRANGE", KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
local moved = {}
for _, jobId in ipairs(ids) do
  if rcall("ZREM", KEYS[1], jobId) == 1 then
    rcall("HDEL", ARGV[1] .. jobId, "atm", "stc", "failedReason", "finishedOn", "processedOn")
    rcall("LPUSH", KEYS[2], jobId)
    rcall("XADD", KEYS[3], "*", "event", "waiting", "jobId", jobId, "prev", "failed")
    moved[#moved + 1] = jobId
  end
end
if #moved > 0 then rcall("ZADD", KEYS[4], 0, "0") end
return moved
