--[[
  Claims up to N waiting jobs for one worker: promotes due delayed (retry) jobs, then moves jobs
  from wait to active, locking each with the worker's token, as BullMQ's moveToActive does one
  at a time.

  KEYS[1] wait   KEYS[2] active   KEYS[3] delayed   KEYS[4] events   KEYS[5] marker   KEYS[6] meta
  ARGV[1] job key prefix   ARGV[2] now (ms)   ARGV[3] lock token   ARGV[4] lock ms   ARGV[5] max jobs

  Returns a flat array: jobId, data, attemptsMade, opts, jobId, data, ...
]]
local rcall = redis.call
local prefix, now, token, lockMs, maxJobs = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])

-- Retried jobs wait in `delayed` scored by due time * 0x1000; move the due ones back to wait.
local due = rcall("ZRANGEBYSCORE", KEYS[3], 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
if #due > 0 then
  rcall("ZREM", KEYS[3], unpack(due))
  for _, jobId in ipairs(due) do
    rcall("LPUSH", KEYS[1], jobId)
    rcall("HSET", prefix .. jobId, "delay", 0)
    rcall("XADD", KEYS[4], "*", "event", "waiting", "jobId", jobId, "prev", "delayed")
  end
end

if rcall("HEXISTS", KEYS[6], "paused") == 1 then
  return {}
end

local out = {}
local claimed = 0
while claimed < maxJobs do
  local jobId = rcall("RPOPLPUSH", KEYS[1], KEYS[2])
  if not jobId then break end
  if string.sub(jobId, 1, 2) == "0:" then
    -- A marker left by BullMQ < 5 in the wait list: not a job.
    rcall("LREM", KEYS[2], 1, jobId)
  else
    local jobKey = prefix .. jobId
    rcall("SET", jobKey .. ":lock", token, "PX", lockMs)
    rcall("HSET", jobKey, "processedOn", now)
    rcall("HINCRBY", jobKey, "ats", 1)
    rcall("XADD", KEYS[4], "*", "event", "active", "jobId", jobId, "prev", "waiting")
    local f = rcall("HMGET", jobKey, "data", "atm", "opts")
    out[#out + 1] = jobId
    out[#out + 1] = f[1] or ""
    out[#out + 1] = f[2] or "0"
    out[#out + 1] = f[3] or "{}"
    claimed = claimed + 1
  end
end
if claimed > 0 and rcall("LLEN", KEYS[1]) > 0 then
  -- Wake other idle workers: there is more to take.
  rcall("ZADD", KEYS[5], 0, "0")
end
return out
