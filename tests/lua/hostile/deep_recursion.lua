-- Hostile: unbounded non-tail recursion at top level (no pcall). Lua should raise
-- "stack overflow" (or run out of memory first); the script must fail cleanly
-- without crashing the host.
print("start")
local function f(n) return 1 + f(n + 1) end
print(f(1))
