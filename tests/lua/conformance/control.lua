-- Conformance: control flow, varargs, closures, tail calls
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

-- goto: continue idiom
do
  local odds = {}
  for i = 1, 10 do
    if i % 2 == 0 then goto continue end
    odds[#odds + 1] = i
    ::continue::
  end
  check("goto continue", table.concat(odds, ","), "1,3,5,7,9")
end

-- goto: break out of nested loops
do
  local found
  for i = 1, 5 do
    for j = 1, 5 do
      if i * j == 12 then found = i .. "x" .. j; goto done end
    end
  end
  ::done::
  check("goto out of nested loops", found, "3x4")
end

-- goto: backward jump as a loop
do
  local i, acc = 0, 0
  ::top::
  i = i + 1
  acc = acc + i
  if i < 10 then goto top end
  check("goto backward loop", acc, 55)
end

-- goto: compile-time errors
check("goto undefined label", (load("goto nowhere")), nil)
check("goto into scope of local", (load("do goto l; local x = 1; ::l:: print(x) end")), nil)
check("duplicate label", (load("::a:: ::a::")), nil)
check("goto to label at block end ok", type(load("do local x = 1; goto e; x = 2; ::e:: end")), "function")

-- numeric for
do
  local t = {}
  for i = 10, 1, -3 do t[#t + 1] = i end
  check("negative step", table.concat(t, ","), "10,7,4,1")
  t = {}
  for x = 0, 1, 0.25 do t[#t + 1] = x end
  check("float step", table.concat(t, ","), "0.0,0.25,0.5,0.75,1.0")
  t = {}
  for x = 1.0, 3 do t[#t + 1] = math.type(x) end
  check("float start gives float loop var", t[1], "float")
  t = {}
  for x = 1, 3 do t[#t + 1] = math.type(x) end
  check("integer loop var", t[1], "integer")
  t = {}
  for x = 1, 2, 0.5 do t[#t + 1] = x end
  check("integer start float step", table.concat(t, ","), "1.0,1.5,2.0")
  local count = 0
  for _ = 1, 0 do count = count + 1 end
  check("empty loop", count, 0)
  count = 0
  for _ = 5, 5 do count = count + 1 end
  check("single iteration", count, 1)
  count = 0
  for _ = 1, 3.9 do count = count + 1 end
  check("float limit floored", count, 3)
  check("zero step error", pcall(load("for i = 1, 10, 0 do end")), false)
  local ok, err = pcall(load("for i = 'a', 2 do end"))
  check("non-number initial error", ok, false)
  check("for initial error msg", tostring(err):find("'for' initial value", 1, true) ~= nil, true)
  -- modifying the loop variable does not affect iteration
  count = 0
  for i = 1, 3 do
    local j = i
    j = j * 100
    count = count + 1
  end
  check("loop count unaffected", count, 3)
end

-- integer overflow edge cases: Lua 5.4 loops never wrap around
do
  local maxi, mini = math.maxinteger, math.mininteger
  local count, last = 0, nil
  for i = maxi - 2, maxi do count = count + 1; last = i end
  check("loop up to maxinteger terminates", count, 3)
  check("last is maxinteger", last, maxi)
  count = 0
  for i = mini + 2, mini, -1 do count = count + 1; last = i end
  check("loop down to mininteger terminates", count, 3)
  check("last is mininteger", last, mini)
  count = 0
  for _ = maxi - 1, maxi, 10 do count = count + 1 end
  check("big step no wrap", count, 1)
  count = 0
  for _ = 1, 0, maxi do count = count + 1 end
  check("huge step empty", count, 0)
  count = 0
  for _ = mini, mini + 4, maxi do count = count + 1 end
  check("step maxinteger from mininteger", count, 1)
  count = 0
  for _ = 0, 3.5e18, 1e18 do count = count + 1 end
  check("float limit larger than step", count, 4)
  count = 0
  for _ = 1, math.huge do count = count + 1; if count == 5 then break end end
  check("float limit inf with int start", count, 5)
  count = 0
  for _ = maxi, 1e100 do count = count + 1 end
  check("int start, float limit beyond maxinteger", count, 1)
  check("wraparound arithmetic", maxi + 1, mini)
end

-- while / repeat scoping
do
  local i, out = 0, {}
  while i < 3 do i = i + 1; out[#out + 1] = i end
  check("while", table.concat(out), "123")
  local n = 0
  repeat
    local done = n >= 2   -- local declared in body is visible in 'until'
    n = n + 1
  until done
  check("repeat-until sees body local", n, 3)
  local x = 0
  repeat x = x + 1 until true
  check("repeat runs once", x, 1)
  local b = 0
  while true do b = b + 1; if b == 4 then break end end
  check("break from while", b, 4)
end

-- varargs
do
  local function count(...) return select("#", ...) end
  check("select # with nils", count(1, nil, nil), 3)
  check("select # empty", count(), 0)
  check("select -1", select(-1, "a", "b", "c"), "c")
  check("select 2", select(2, "a", "b", "c"), "b")
  check("select 2 count", count(select(2, "a", "b", "c")), 2)
  check("select beyond", count(select(5, "a")), 0)
  check("select 0 error", pcall(select, 0, "a"), false)
  local function pack(...) return table.pack(...) end
  local p = pack(nil, 2, nil)
  check("table.pack n with trailing nil", p.n, 3)
  local function first(...) local a = ... return a end
  check("... adjusted to one", first(9, 8, 7), 9)
  local function sum(...)
    local s = 0
    for i = 1, select("#", ...) do s = s + (select(i, ...)) end
    return s
  end
  check("sum varargs", sum(1, 2, 3, 4), 10)
  local function passthrough(...) return ... end
  check("vararg passthrough count", count(passthrough(1, nil, 3, nil)), 4)
  local vf = load("return select('#', ...)")
  check("main chunk varargs", vf(1, 2), 2)
end

-- multiple returns and adjustment
do
  local function mr() return 1, 2, 3 end
  local a, b, c, d = mr()
  check("multi assign", a + b + c, 6)
  check("extra var nil", d, nil)
  local x, y = mr(), 10
  check("non-last call truncated", x, 1)
  check("non-last call next", y, 10)
  check("parenthesized truncates", select("#", (mr())), 1)
  local t = {mr(), mr()}
  check("table ctor adjust", #t, 4)
  check("string.format with multiple", string.format("%d%d%d", mr()), "123")
  local function none() end
  check("no results in expression", none(), nil)
  check("no results count", select("#", none()), 0)
  local p, q = 1
  check("missing values nil", q, nil)
  local s1, s2 = 1, 2, 3
  check("extra values dropped", s1 + s2, 3)
  local i, j = 1, 2
  i, j = j, i
  check("swap", i * 10 + j, 21)
end

-- closures and upvalues
do
  local function counter()
    local n = 0
    return function() n = n + 1; return n end, function() return n end
  end
  local inc, get = counter()
  inc(); inc()
  check("shared upvalue", get(), 2)
  local inc2 = counter()
  check("independent closures", inc2(), 1)
  check("first unaffected", get(), 2)
  local fns = {}
  for i = 1, 3 do fns[i] = function() return i end end
  check("fresh loop var per iteration", fns[1]() + fns[2]() + fns[3](), 6)
  local ws = {}
  local k = 1
  while k <= 3 do local kk = k; ws[k] = function() return kk end; k = k + 1 end
  check("fresh local per while iteration", ws[1]() .. ws[3](), "13")
  local shared = {}
  do
    local v = 0
    shared.set = function(x) v = x end
    shared.get = function() return v end
  end
  shared.set(42)
  check("setter/getter closure", shared.get(), 42)
end

-- recursion
do
  local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
  check("factorial", fact(20), 2432902008176640000)
  local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
  check("fib", fib(20), 6765)
  local isEven, isOdd
  function isEven(n) if n == 0 then return true end return isOdd(n - 1) end
  function isOdd(n) if n == 0 then return false end return isEven(n - 1) end
  check("mutual recursion", isEven(100), true)
  local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
  check("non-tail recursion 10000 deep", depth(10000), 10000)
end

-- proper tail calls do not grow the stack
do
  local function loop(n, acc) if n == 0 then return acc end return loop(n - 1, acc + 1) end
  check("1e6 deep tail call", loop(1000000, 0), 1000000)
  local ping, pong
  function ping(n) if n == 0 then return "ping" end return pong(n - 1) end
  function pong(n) if n == 0 then return "pong" end return ping(n - 1) end
  check("mutual tail calls 1e6", ping(1000001), "pong")
  local obj = {n = 0}
  function obj:step(k) if k == 0 then return self.n end self.n = self.n + 1 return self:step(k - 1) end
  check("method tail call", obj:step(300000), 300000)
end

-- short-circuit evaluation
do
  local calls = 0
  local function f() calls = calls + 1; return true end
  local _ = false and f()
  local _ = true or f()
  check("short circuit", calls, 0)
  check("and value", nil and 1, nil)
  check("or value", false or "x", "x")
  check("and/or ternary", (1 > 0) and "yes" or "no", "yes")
  check("0 is true", 0 and "t" or "f", "t")
  check("empty string is true", "" and "t" or "f", "t")
end

print(string.format("ok control %d checks", N))
