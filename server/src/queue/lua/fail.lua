--[[
  Fails one job: back to `delayed` with exponential backoff while attempts remain, else into
  `failed` (the dead-letter queue) with the reason, as BullMQ's moveToFinished/moveToDelayed do.

  KEYS[1] active   KEYS[2] failed   KEYS[3] delayed   KEYS[4] events   KEYS[5] marker
  ARGV[1] job key prefix   ARGV[2] now (ms)   ARGV[3] lock token   ARGV[4] job id
  ARGV[5] reason   ARGV[6] default attempts   ARGV[7] default backoff ms   ARGV[8] "1" = no retry

  Returns 1 when retried, 2 when dead-lettered, 0 when the job was not ours.
]]
local rcall = redis.call
local prefix, now, token, jobId, reason = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local jobKey = prefix .. jobId
local lock = rcall("GET", jobKey .. ":lock")
if (lock ~= false and lock ~= token) or rcall("LREM", KEYS[1], -1, jobId) == 0 then
  return 0
end
rcall("DEL", jobKey .. ":lock")
local attemptsMade = rcall("HINCRBY", jobKey, "atm", 1)
local attempts, backoff = tonumber(ARGV[6]), tonumber(ARGV[7])
local ok, opts = pcall(cjson.decode, rcall("HGET", jobKey, "opts") or "{}")
if ok and type(opts) == "table" then
  attempts = tonumber(opts["attempts"]) or attempts
  if type(opts["backoff"]) == "table" then
    backoff = tonumber(opts["backoff"]["delay"]) or backoff
  elseif tonumber(opts["backoff"]) then
    backoff = tonumber(opts["backoff"])
  end
end
if ARGV[8] ~= "1" and attemptsMade < attempts then
  local delay = backoff * (2 ^ (attemptsMade - 1))
  local due = now + delay
  rcall("ZADD", KEYS[3], due * 0x1000, jobId)
  rcall("HSET", jobKey, "delay", delay, "failedReason", reason)
  rcall("XADD", KEYS[4], "*", "event", "delayed", "jobId", jobId, "delay", due)
  rcall("ZADD", KEYS[5], due, "1")
  return 1
end
rcall("ZADD", KEYS[2], now, jobId)
rcall("HSET", jobKey, "failedReason", reason, "finishedOn", now)
rcall("XADD", KEYS[4], "*", "event", "failed", "jobId", jobId, "failedReason", reason, "prev", "active")
return 2
