--[[
  Recovers jobs of dead workers: an id in `active` whose lock has expired goes back to the head
  of `wait` (or to `failed` after too many stalls). At most one worker runs the check per
  interval (`stalled-check`), as in BullMQ.

  KEYS[1] active   KEYS[2] wait   KEYS[3] failed   KEYS[4] stalled-check   KEYS[5] events   KEYS[6] marker
  ARGV[1] job key prefix   ARGV[2] now (ms)   ARGV[3] check interval ms   ARGV[4] max stalls

  Returns the ids moved back to wait.
]]
local rcall = redis.call
local prefix, now, interval, maxStalls = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if rcall("SET", KEYS[4], now, "PX", interval, "NX") == false then
  return {}
end
local moved = {}
for _, jobId in ipairs(rcall("LRANGE", KEYS[1], 0, -1)) do
  local jobKey = prefix .. jobId
  if rcall("EXISTS", jobKey .. ":lock") == 0 then
    rcall("LREM", KEYS[1], 1, jobId)
    local stalls = rcall("HINCRBY", jobKey, "stc", 1)
    if stalls > maxStalls then
      rcall("ZADD", KEYS[3], now, jobId)
      rcall("HSET", jobKey, "failedReason", "job stalled more than allowable limit", "finishedOn", now)
      rcall("XADD", KEYS[5], "*", "event", "failed", "jobId", jobId, "failedReason", "job stalled more than allowable limit", "prev", "active")
    else
      rcall("RPUSH", KEYS[2], jobId)
      rcall("XADD", KEYS[5], "*", "event", "stalled", "jobId", jobId)
      moved[#moved + 1] = jobId
    end
  end
end
if #moved > 0 then
  rcall("ZADD", KEYS[6], 0, "0")
end
return moved
