-- Conformance: table library and table semantics
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function join(t, n)
  local out = {}
  for i = 1, (n or #t) do out[i] = tostring(t[i]) end
  return table.concat(out, ",")
end
local function fails(name, f, ...)
  N = N + 1
  local ok, err = pcall(f, ...)
  if ok then error(name .. ": expected an error", 2) end
  return tostring(err)
end

-- insert / remove
do
  local t = {}
  table.insert(t, "a"); table.insert(t, "b"); table.insert(t, 1, "z")
  check("insert", join(t), "z,a,b")
  table.insert(t, #t + 1, "end")
  check("insert at n+1", join(t), "z,a,b,end")
  check("remove last", table.remove(t), "end")
  check("remove first", table.remove(t, 1), "z")
  check("after removes", join(t), "a,b")
  check("remove empty", table.remove({}), nil)
  check("remove #t+1", table.remove({1, 2}, 3), nil)
  fails("insert out of bounds", table.insert, {1, 2}, 5, "x")
  fails("insert wrong arg count", table.insert, {}, 1, 2, 3)
  fails("remove out of bounds", table.remove, {1, 2}, 5)
  local e = {}
  check("remove(t, 0) on empty", table.remove(e, 0), nil)
end

-- concat
check("concat", table.concat({1, 2, 3}), "123")
check("concat sep", table.concat({"a", "b", "c"}, ", "), "a, b, c")
check("concat range", table.concat({"a", "b", "c", "d"}, "-", 2, 3), "b-c")
check("concat empty range", table.concat({"a"}, "-", 2, 1), "")
check("concat empty", table.concat({}), "")
check("concat floats", table.concat({1.5, 2}, " "), "1.5 2")
fails("concat bad value", table.concat, {1, {}, 3})
check("concat error message", fails("concat nil hole", table.concat, {1, nil, 3}, ",", 1, 3):find("invalid value", 1, true) ~= nil, true)

-- sort
do
  local t = {5, 2, 8, 1, 9, 3}
  table.sort(t)
  check("sort numbers", join(t), "1,2,3,5,8,9")
  table.sort(t, function(a, b) return a > b end)
  check("sort desc", join(t), "9,8,5,3,2,1")
  local s = {"pear", "Apple", "banana", "apple"}
  table.sort(s)
  check("sort strings", join(s), "Apple,apple,banana,pear")
  table.sort(s, function(a, b) return a:lower() < b:lower() or (a:lower() == b:lower() and a < b) end)
  check("sort case-insensitive total order", join(s), "Apple,apple,banana,pear")
  local recs = {{n = "c", v = 3}, {n = "a", v = 1}, {n = "b", v = 2}}
  table.sort(recs, function(x, y) return x.v < y.v end)
  check("sort records", recs[1].n .. recs[2].n .. recs[3].n, "abc")
  local big = {}
  local x = 12345
  for i = 1, 1000 do x = (x * 1103515245 + 12345) % 2147483648; big[i] = x end
  table.sort(big)
  local sorted = true
  for i = 2, #big do if big[i - 1] > big[i] then sorted = false end end
  check("sort 1000 pseudo-random", sorted, true)
  fails("sort mixed types", table.sort, {1, "x", 2})
  local one = {42}
  table.sort(one)
  check("sort single", one[1], 42)
end

-- pack / unpack
do
  local p = table.pack(1, nil, 3)
  check("pack n", p.n, 3)
  check("pack [3]", p[3], 3)
  check("pack empty n", table.pack().n, 0)
  local a, b, c = table.unpack({1, 2, 3})
  check("unpack", a + b + c, 6)
  check("unpack range", select("#", table.unpack({1, 2, 3, 4}, 2, 3)), 2)
  check("unpack range value", (table.unpack({1, 2, 3, 4}, 3)), 3)
  check("unpack with nils", select("#", table.unpack({n = 3}, 1, 3)), 3)
  check("unpack empty", select("#", table.unpack({})), 0)
  check("unpack packed", select("#", table.unpack(p, 1, p.n)), 3)
  fails("unpack too many", table.unpack, {}, 1, 1e8)
end

-- move
do
  local t = {1, 2, 3, 4, 5}
  table.move(t, 2, 4, 1)
  check("move left", join(t), "2,3,4,4,5")
  t = {1, 2, 3, 4, 5}
  table.move(t, 1, 3, 3)
  check("move overlapping right", join(t), "1,2,1,2,3")
  local dst = table.move({1, 2, 3}, 1, 3, 2, {"x"})
  check("move to other table", join(dst), "x,1,2,3")
  check("move returns dest", table.move({}, 1, 0, 1, dst), dst)
end

-- length operator
check("# sequence", #{1, 2, 3}, 3)
check("# empty", #{}, 0)
check("# strings", #{"a", "b"}, 2)
do
  local t = {}
  for i = 1, 100 do t[i] = i end
  check("# grown", #t, 100)
  t[100] = nil
  check("# shrunk", #t, 99)
  local h = {n = 1, x = 2}
  check("# hash only", #h, 0)
end

-- next / pairs / ipairs
do
  check("next empty", next({}), nil)
  local k, v = next({10})
  check("next single key", k, 1); check("next single value", v, 10)
  local t = {a = 1, b = 2, c = 3, 10, 20}
  local keys = {}
  for k2 in pairs(t) do keys[#keys + 1] = tostring(k2) end
  table.sort(keys)
  check("pairs keys (sorted)", table.concat(keys, ","), "1,2,a,b,c")
  local sum = 0
  for _, v2 in pairs(t) do sum = sum + v2 end
  check("pairs sum", sum, 36)
  local iseq = {}
  for i, v2 in ipairs({"a", "b", nil, "d"}) do iseq[i] = v2 end
  check("ipairs stops at nil", #iseq, 2)
  -- clearing fields during traversal is allowed
  local m = {}
  for i = 1, 50 do m["k" .. i] = i end
  for k2 in pairs(m) do m[k2] = nil end
  check("clear during pairs", next(m), nil)
  -- __pairs metamethod
  local proxy = setmetatable({}, {__pairs = function(_) return function(_, i) if (i or 0) < 3 then return (i or 0) + 1, "v" end end, nil, nil end})
  local cnt = 0
  for _ in pairs(proxy) do cnt = cnt + 1 end
  check("__pairs", cnt, 3)
end

-- tables as keys, key normalization
do
  local k1, k2 = {}, {}
  local t = {[k1] = "one", [k2] = "two"}
  check("table key 1", t[k1], "one")
  check("table key 2", t[k2], "two")
  check("table key new table", t[{}], nil)
  local f = function() end
  t[f] = "func"
  check("function key", t[f], "func")
  t[true] = "yes"
  check("boolean key", t[true], "yes")
  t[1] = "int"
  check("float key normalized", t[1.0], "int")
  t[2.0] = "float-two"
  check("float key stored as int", t[2], "float-two")
  check("float key math.type", math.type(next({[3.0] = true})), "integer")
  t[1.5] = "half"
  check("non-integral float key", t[1.5], "half")
  check("string key vs number key", t["1"], nil)
end

-- nil / NaN keys
do
  local t = {}
  fails("nil key assignment", function() t[nil] = 1 end)
  check("NaN key error message", fails("NaN key assignment", function() t[0 / 0] = 1 end):find("NaN", 1, true) ~= nil, true)
  check("nil key read is nil", t[nil], nil)
  check("NaN key read is nil", t[0 / 0], nil)
  fails("rawset nil key", rawset, t, nil, 1)
end

-- constructors
do
  local function three() return 1, 2, 3 end
  check("constructor expands last call", #{three()}, 3)
  check("constructor truncates non-last", #{three(), 10}, 2)
  check("constructor parenthesized", #{(three())}, 1)
  local t = {[1] = "a", "b"}
  check("positional overrides explicit", t[1], "b")
  local mixed = {x = 1, "p", y = 2, "q"; "r"}
  check("mixed constructor", #mixed .. mixed.x .. mixed.y, "312")
end

print(string.format("ok tables %d checks", N))
