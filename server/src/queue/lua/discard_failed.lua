--[[
  Dead-letter discard: deletes up to N failed jobs for good.

  KEYS[1] failed
  ARGV[1] job key prefix   ARGV[2] max jobs   ARGV[3..] optional job ids (all when absent)
  Returns how many were removed.
]]
local rcall = redis.call
local ids
if #ARGV >= 3 then
  ids = {}
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
else
  ids = rcall("ZRANGE", KEYS[1], 0, tonumber(ARGV[2]) - 1)
end
local n = 0
for _, jobId in ipairs(ids) do
  if rcall("ZREM", KEYS[1], jobId) == 1 then
    rcall("DEL", ARGV[1] .. jobId, ARGV[1] .. jobId .. ":logs")
    n = n + 1
  end
end
return n
