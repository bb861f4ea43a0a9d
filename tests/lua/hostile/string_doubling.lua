-- Hostile: doubles a string until memory runs out. The sandbox must stop it
-- with a memory limit (Lua "not enough memory" or an instance limit).
print("start")
local s = "x"
while true do s = s .. s end
