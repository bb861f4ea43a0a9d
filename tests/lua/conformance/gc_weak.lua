-- Conformance: weak tables and garbage collection
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end
local function fullgc()
  -- two cycles: ephemerons and resurrected objects may need more than one
  collectgarbage("collect")
  collectgarbage("collect")
end

-- weak keys
do
  local wk = setmetatable({}, {__mode = "k"})
  local keep = {}
  wk[keep] = "kept"
  collectgarbage("stop")   -- no automatic collection while filling
  for i = 1, 100 do wk[{}] = i end
  check("before collect", count(wk), 101)
  collectgarbage("restart")
  fullgc()
  check("weak keys collected", count(wk), 1)
  check("strongly referenced key kept", wk[keep], "kept")
  -- strings and numbers are values, never removed from weak-key tables
  wk["str" .. 1] = true
  wk[42] = true
  fullgc()
  check("string key kept", wk.str1, true)
  check("number key kept", wk[42], true)
end

-- weak values
do
  local wv = setmetatable({}, {__mode = "v"})
  local strong = {}
  wv.a = strong
  wv.b = {}
  wv.c = "a string value"
  wv.d = 123
  for i = 1, 50 do wv[i] = {} end
  fullgc()
  check("strong value kept", wv.a, strong)
  check("unreferenced value collected", wv.b, nil)
  check("string value kept", wv.c, "a string value")
  check("number value kept", wv.d, 123)
  check("array part values collected", count(wv), 3)
  wv.f = function() end
  fullgc()
  check("unreferenced closure collected", wv.f, nil)
  local fn = function() return 1 end
  wv.g = fn
  fullgc()
  check("referenced function kept", wv.g, fn)
end

-- fully weak tables
do
  local kv = setmetatable({}, {__mode = "kv"})
  local k, v = {}, {}
  kv[k] = {}         -- value unreferenced
  kv[{}] = v         -- key unreferenced
  kv.name = v        -- both strongly held
  fullgc()
  check("kv: entry with dead value removed", kv[k], nil)
  check("kv: live entry kept", kv.name, v)
  check("kv: count", count(kv), 1)
end

-- ephemerons: a value that references only its own key does not keep it alive
do
  local eph = setmetatable({}, {__mode = "k"})
  do
    local key = {}
    eph[key] = {ref = key}   -- value refers back to the key
  end
  local kept = {}
  eph[kept] = {ref = kept}
  fullgc()
  check("ephemeron cycle collected", count(eph), 1)
  check("ephemeron live key kept", eph[kept].ref, kept)
  -- chain: k1 -> v1 holds k2 -> v2; k1 alive keeps both
  local k1 = {}
  local k2 = {}
  eph[k1] = {next = k2}
  eph[k2] = "second"
  k2 = nil
  fullgc()
  local nk = eph[k1].next
  check("ephemeron chain keeps reachable key", eph[nk], "second")
end

-- caching / memoization with weak values
do
  local cache = setmetatable({}, {__mode = "v"})
  local made = 0
  local function get(name)
    local obj = cache[name]
    if not obj then made = made + 1; obj = {name = name}; cache[name] = obj end
    return obj
  end
  local a = get("x")
  check("memo same object", get("x"), a)
  check("memo made once", made, 1)
  a = nil
  fullgc()
  get("x")
  check("memo recreated after collection", made, 2)
end

-- weak mode can be set after creation (entries collected next cycle)
do
  local t = {}
  t[{}] = 1
  setmetatable(t, {__mode = "k"})
  fullgc()
  check("mode set later", next(t), nil)
end

-- collectgarbage count decreases after releasing a large structure
do
  fullgc()
  local base = collectgarbage("count")
  local big = {}
  for i = 1, 20000 do big[i] = {i, tostring(i)} end
  local peak = collectgarbage("count")
  check("allocation increases count", peak > base, true)
  big = nil
  fullgc()
  check("collection frees memory", collectgarbage("count") < peak, true)
end

-- generational and incremental modes are accepted
do
  local prev = collectgarbage("generational")
  check("previous mode reported", prev == "incremental" or prev == "generational", true)
  local wk = setmetatable({}, {__mode = "k"})
  wk[{}] = true
  fullgc()
  check("weak keys collected in generational mode", next(wk), nil)
  check("back to incremental", collectgarbage("incremental"), "generational")
end

print(string.format("ok gc_weak %d checks", N))
