-- Benchmark: string/table workload (string.format, upper, table.concat, gsub).
-- Prints exactly one line: strings best_ms=<ms> checksum=<deterministic number>
-- The iteration count can be overridden with arg[1] or a global ITER (default 200000).
local iters = math.tointeger(tonumber(arg and arg[1] or nil) or tonumber(ITER) or 200000)
assert(iters and iters > 0, "strings: iteration count must be a positive integer")

local fmt, upper, concat, gsub = string.format, string.upper, table.concat, string.gsub

local function workload()
  local total = 0
  local pieces = {}
  for i = 1, iters do
    local line = fmt("user%05d@example.org;%d;%.2f", i % 10000, i, i / 7)
    local up = upper(line)
    pieces[1] = up
    pieces[2] = "<"
    pieces[3] = tostring(i % 97)
    pieces[4] = ">"
    local joined = concat(pieces, "|", 1, 4)
    local replaced, count = gsub(joined, "[%d]+", "#")
    total = total + #joined + #replaced + count
  end
  return total
end

local best, checksum = math.huge, nil
for _ = 1, 3 do
  local t0 = os.clock()
  local c = workload()
  local ms = (os.clock() - t0) * 1000
  if ms < best then best = ms end
  assert(checksum == nil or checksum == c, "strings: non-deterministic checksum")
  checksum = c
end
print(string.format("strings best_ms=%.1f checksum=%d", best, checksum))
