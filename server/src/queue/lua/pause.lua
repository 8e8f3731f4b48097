--[[
  Pauses or resumes consumption, as BullMQ 6's Queue.pause()/resume() do: the state is the
  `paused` field of meta. Producers keep adding to wait (add.lua), workers claim nothing while
  it is set (claim.lua). Resuming also moves any jobs an older producer left in the legacy
  `paused` list (BullMQ < 6 added there while paused) into wait, at its consuming (right) end:
  they are the older ones.

  KEYS[1] wait   KEYS[2] paused (legacy)   KEYS[3] meta   KEYS[4] events   KEYS[5] marker
  ARGV[1] "paused" or "resumed"

  Returns 1 when the state changed, 0 when the queue already was in it.
]]
local rcall = redis.call
local pausing = ARGV[1] == "paused"
if (rcall("HEXISTS", KEYS[3], "paused") == 1) == pausing then
  return 0
end
if pausing then
  rcall("HSET", KEYS[3], "paused", 1)
  -- Idle workers then block on the marker until resume instead of waking for nothing.
  rcall("DEL", KEYS[5])
else
  rcall("HDEL", KEYS[3], "paused")
  if rcall("EXISTS", KEYS[2]) == 1 then
    if rcall("EXISTS", KEYS[1]) == 0 then
      rcall("RENAME", KEYS[2], KEYS[1])
    else
      while rcall("LMOVE", KEYS[2], KEYS[1], "LEFT", "RIGHT") do end
    end
  end
  if rcall("LLEN", KEYS[1]) > 0 then
    rcall("ZADD", KEYS[5], 0, "0")
  end
end
rcall("XADD", KEYS[4], "*", "event", ARGV[1])
return 1
