-- Benchmark (bench/isolation.py): the cost of a caught error.
--   pcall.lua [loops] [depth] [repeats]
-- Runs `pcall(error, "x")` `loops` times (default 200000), at the bottom of
-- `depth` nested pcalls (default 0), timed with os.clock, best of `repeats`
-- (default 3).
-- Prints exactly one line:
--   pcall depth=<d> loops=<n> us_per_op=<us> best_ms=<ms>
-- Runs unchanged under native lua5.4 and `rumble script run`.
local loops = math.tointeger(tonumber(arg and arg[1] or nil) or 200000)
local depth = math.tointeger(tonumber(arg and arg[2] or nil) or 0)
local repeats = math.tointeger(tonumber(arg and arg[3] or nil) or 3)
assert(loops and loops > 0 and depth and depth >= 0 and repeats and repeats > 0,
  "usage: pcall.lua [loops] [depth] [repeats]")

local pcall, error = pcall, error

local function bottom()
  local t0 = os.clock()
  for _ = 1, loops do
    local ok = pcall(error, "x")
    if ok then error("pcall(error) succeeded") end
  end
  return os.clock() - t0
end

local function nest(d)
  if d == 0 then return bottom() end
  local ok, secs = pcall(nest, d - 1)
  if not ok then error(secs, 0) end
  return secs
end

local best = math.huge
for _ = 1, repeats do
  local secs = nest(depth)
  if secs < best then best = secs end
end
print(string.format("pcall depth=%d loops=%d us_per_op=%.3f best_ms=%.1f",
  depth, loops, best * 1e6 / loops, best * 1000))
