-- Hostile: asks for a 1 TB string in one call. Must fail with a Lua error
-- ("resulting string too large" or "not enough memory"), not crash the host.
print("start")
local s = string.rep("x", 1e12)
print(#s)
