--[[
  Marks jobs completed once their events are committed, as BullMQ's moveToFinished does, and
  keeps only the newest `keep` completed jobs.

  KEYS[1] active   KEYS[2] completed   KEYS[3] events
  ARGV[1] job key prefix   ARGV[2] now (ms)   ARGV[3] lock token   ARGV[4] keep (-1: all)
  ARGV[5..] job ids

  A job whose lock is no longer ours (it stalled and another worker took it) is left alone: the
  other worker stores it again, idempotently. Returns how many jobs were completed.
]]
local rcall = redis.call
local prefix, now, token, keep = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local done = 0
for i = 5, #ARGV do
  local jobId = ARGV[i]
  local jobKey = prefix .. jobId
  local lock = rcall("GET", jobKey .. ":lock")
  if (lock == false or lock == token) and rcall("LREM", KEYS[1], -1, jobId) > 0 then
    rcall("DEL", jobKey .. ":lock")
    rcall("ZADD", KEYS[2], now, jobId)
    rcall("HINCRBY", jobKey, "atm", 1)
    rcall("HSET", jobKey, "finishedOn", now, "returnvalue", "null")
    rcall("XADD", KEYS[3], "*", "event", "completed", "jobId", jobId, "returnvalue", "null")
    done = done + 1
  end
end
if keep >= 0 then
  local extra = rcall("ZCARD", KEYS[2]) - keep
  if extra > 0 then
    local old = rcall("ZRANGE", KEYS[2], 0, extra - 1)
    for _, jobId in ipairs(old) do
      rcall("DEL", prefix .. jobId, prefix .. jobId .. ":logs")
    end
    rcall("ZREMRANGEBYRANK", KEYS[2], 0, extra - 1)
  end
end
return done
