--[[
  Adds N ingest jobs atomically, in BullMQ's layout (one group commit of concurrent requests).

  KEYS[1] wait   KEYS[2] paused (unused: BullMQ 6 adds to wait while paused)   KEYS[3] meta   KEYS[4] id   KEYS[5] events   KEYS[6] marker
  ARGV[1] job key prefix ("bull:events:")   ARGV[2] timestamp (ms)   ARGV[3] max waiting jobs
  ARGV[4] job name   ARGV[5] opts (JSON)   ARGV[6..] job data (JSON), one per job

  Returns the new job ids, or {-1, waiting} when the queue already holds max waiting jobs:
  nothing is added then (backpressure, the caller answers 503).
]]
local rcall = redis.call
local prefix, ts, maxWaiting, name, opts = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]

-- While paused (pause.lua) jobs still go to wait, as in BullMQ 6; only the marker that wakes
-- idle workers is left out.
local paused = rcall("HEXISTS", KEYS[3], "paused") == 1
local waiting = rcall("LLEN", KEYS[1])
if waiting >= maxWaiting then
  return {-1, waiting}
end

local maxEvents = rcall("HGET", KEYS[3], "opts.maxLenEvents")
if not maxEvents then
  maxEvents = 10000
  rcall("HSET", KEYS[3], "opts.maxLenEvents", maxEvents)
end

local ids = {}
for i = 6, #ARGV do
  local jobId = tostring(rcall("INCR", KEYS[4]))
  rcall("HMSET", prefix .. jobId, "name", name, "data", ARGV[i], "opts", opts,
        "timestamp", ts, "delay", 0, "priority", 0)
  rcall("XADD", KEYS[5], "MAXLEN", "~", maxEvents, "*", "event", "added", "jobId", jobId, "name", name)
  rcall("LPUSH", KEYS[1], jobId)
  rcall("XADD", KEYS[5], "MAXLEN", "~", maxEvents, "*", "event", "waiting", "jobId", jobId)
  ids[#ids + 1] = jobId
end
if not paused then
  rcall("ZADD", KEYS[6], 0, "0")
end
return ids
