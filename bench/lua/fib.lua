-- Benchmark: naive recursive Fibonacci (function calls + integer arithmetic).
-- n comes from the command line (arg[1]), a global N, or defaults to 32.
-- Prints exactly one line: fib <n> best_ms=<ms> result=<value>
local n = math.tointeger(tonumber(arg and arg[1] or nil) or tonumber(N) or 32)
assert(n and n >= 0, "fib: n must be a non-negative integer")

local function fib(k)
  if k < 2 then return k end
  return fib(k - 1) + fib(k - 2)
end

local best, result = math.huge, nil
for _ = 1, 3 do
  local t0 = os.clock()
  result = fib(n)
  local ms = (os.clock() - t0) * 1000
  if ms < best then best = ms end
end
print(string.format("fib %d best_ms=%.1f result=%d", n, best, result))
