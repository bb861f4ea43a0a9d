-- Hostile: fills a table forever with distinct 1 KiB strings (slow memory growth
-- through many small allocations, unlike string doubling).
print("start")
local t = {}
local pad = string.rep("x", 1024 - 16)
local i = 0
while true do
  i = i + 1
  t[i] = string.format("%016d", i) .. pad   -- distinct, exactly 1024 bytes
end
