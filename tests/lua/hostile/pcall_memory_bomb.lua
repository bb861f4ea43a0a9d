-- Hostile but recoverable: string doubling inside pcall. The memory limit must
-- surface as an ordinary, catchable Lua error, after which the script goes on.
print("start")
local ok, err = pcall(function()
  local s = "x"
  while true do s = s .. s end
end)
if ok then error("string doubling returned normally") end
collectgarbage()
print("caught: " .. tostring(err))
print("survived")
