-- Conformance: base library odds and ends, load, os, collectgarbage
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

check("_VERSION", _VERSION, "Lua 5.4")
check("_G._G", _G._G, _G)
check("_ENV is _G at top level", _ENV, _G)

-- load with a string chunk
do
  local f = load("return 1 + 2")
  check("load string", f(), 3)
  local g = load("local a, b = ... return a * b")
  check("load with varargs", g(6, 7), 42)
  check("load returns function", type(load("x = 1")), "function")
  local named = load("error('e')", "=mychunk")
  local _, err = pcall(named)
  check("chunk name used in errors", err, "mychunk:1: e")
  local _, err2 = pcall(load("error('e')", "@file.lua"))
  check("@chunkname", err2, "file.lua:1: e")
  local _, err3 = pcall(load("\n\nerror('e')", "=c"))
  check("line numbers", err3, "c:3: e")
end

-- load with a function chunk
do
  local parts = {"return ", "10 ", "* ", "5"}
  local i = 0
  local f = load(function() i = i + 1; return parts[i] end)
  check("load function reader", f(), 50)
  local once = false
  local g = load(function() if once then return nil end once = true; return "return 'one piece'" end)
  check("load reader single piece", g(), "one piece")
  local h = load(function() return nil end)
  check("load empty reader", select("#", h()), 0)
  local bad, msg = load(function() return {} end)
  check("reader returning non-string", bad, nil)
  check("reader non-string message", type(msg), "string")
end

-- env parameter (sandboxed _ENV)
do
  local env = {x = 5}
  local f = load("y = x * 2; return y", "=sandboxed", "t", env)
  check("env read", f(), 10)
  check("env write stays in env", env.y, 10)
  check("env write does not leak", rawget(_G, "y"), nil)
  local g = load("return print", "=noprint", "t", {})
  check("env without globals", g(), nil)
  local h = load("return tostring(1)", "=t", "t", {tostring = function() return "fake" end})
  check("env overrides", h(), "fake")
  local ok = pcall(load("return string.len('x')", "=t", "t", {}))
  check("env missing library errors", ok, false)
  local function withenv()
    local _ENV = {z = 3}
    return z
  end
  check("local _ENV", withenv(), 3)
  local calls = 0
  local proxy = setmetatable({}, {__index = function(_, k) calls = calls + 1; return _G[k] end})
  load("local _ = type(1)", "=p", "t", proxy)()
  check("env with __index", calls, 1)
end

-- mode and syntax errors
do
  local f, err = load("return +", "=bad")
  check("syntax error returns nil", f, nil)
  check("syntax error message", err:match("^bad:1: ") ~= nil, true)
  local f2, err2 = load("x = = 1")
  check("syntax error nil 2", f2, nil)
  check("syntax error mentions near", err2:find("near", 1, true) ~= nil, true)
  local f3, err3 = load("for")
  check("unexpected eof", f3, nil)
  check("eof message", err3:find("<eof>", 1, true) ~= nil, true)
  check("mode t accepts text", type(load("return 1", "=m", "t")), "function")
  if string.dump then
    local ok, bin = pcall(string.dump, function() return 7 end)
    if ok then
      local f4, err4 = load(bin, "=bin", "t")
      check("mode t rejects binary", f4, nil)
      check("mode t message", err4:find("binary", 1, true) ~= nil, true)
      local f5 = load("return 1", "=m", "b")
      check("mode b rejects text", f5, nil)
    else
      N = N + 3
    end
  else
    N = N + 3
  end
  check("unfinished string", (load("return 'abc")), nil)
  check("invalid escape", (load([[return "\q"]])), nil)
end

-- select / type / tostring / tonumber / rawequal
check("select #", select("#", 1, nil, 3), 3)
check("select n", select(2, "a", "b", "c"), "b")
check("select -1", select(-1, "a", "b", "c"), "c")
check("type nil", type(nil), "nil")
check("type boolean", type(false), "boolean")
check("type number", type(1.5), "number")
check("type string", type(""), "string")
check("type table", type({}), "table")
check("type function", type(print), "function")
check("type thread", type(coroutine.create(function() end)), "thread")
check("type needs argument", pcall(type), false)
check("tostring nil", tostring(nil), "nil")
check("tostring true", tostring(true), "true")
check("tostring int", tostring(10), "10")
check("tostring table prefix", tostring({}):match("^table: ") ~= nil, true)
check("tostring function prefix", tostring(print):match("^%a*%s*function") ~= nil, true)
check("tonumber string", tonumber("0x1F"), 31)
check("tonumber invalid", tonumber("z"), nil)
check("rawequal same string", rawequal("a", "a"), true)
check("rawequal int float", rawequal(1, 1.0), true)
check("rawequal tables", rawequal({}, {}), false)

-- ipairs stops at the first nil
do
  local t = {1, 2, nil, 4}
  local n = 0
  for _ in ipairs(t) do n = n + 1 end
  check("ipairs stops at nil", n, 2)
  local proxied = setmetatable({}, {__index = function(_, i) if i <= 3 then return i * 10 end end})
  local s = 0
  for _, v in ipairs(proxied) do s = s + v end
  check("ipairs respects __index", s, 60)
end

-- os.time / os.date / os.difftime / os.clock
do
  local t1 = os.time{year = 2020, month = 1, day = 1, hour = 0}
  local t2 = os.time{year = 2020, month = 1, day = 2, hour = 0}
  check("os.time is integer", math.type(t1), "integer")
  check("one day apart", t2 - t1, 86400)
  check("difftime", os.difftime(t2, t1), 86400.0)
  local leap = os.time{year = 2020, month = 3, day = 1, hour = 12} - os.time{year = 2020, month = 2, day = 28, hour = 12}
  check("leap year Feb", leap, 2 * 86400)
  local norm = os.date("*t", os.time{year = 2020, month = 1, day = 32, hour = 12})
  check("day overflow normalizes month", norm.month, 2)
  check("day overflow normalizes day", norm.day, 1)
  local rt = os.date("*t", os.time{year = 2021, month = 7, day = 15, hour = 13, min = 45, sec = 30})
  check("local round trip year", rt.year, 2021)
  check("local round trip hour", rt.hour, 13)
  check("local round trip min", rt.min, 45)
  check("local round trip sec", rt.sec, 30)
  check("date ! format", os.date("!%Y-%m-%d %H:%M:%S", 86400), "1970-01-02 00:00:00")
  check("date ! format 2", os.date("!%Y-%m-%dT%H:%M:%S", 1600000000), "2020-09-13T12:26:40")
  local e = os.date("!*t", 0)
  check("epoch year", e.year, 1970)
  check("epoch month", e.month, 1)
  check("epoch day", e.day, 1)
  check("epoch hour", e.hour, 0)
  check("epoch wday (Thursday)", e.wday, 5)
  check("epoch yday", e.yday, 1)
  check("epoch isdst", e.isdst, false)
  check("date %j", os.date("!%j", 86400 * 40), "041")
  check("date %%", os.date("!%%"), "%")
  check("os.time() integer", math.type(os.time()), "integer")
  check("os.time() after 2020", os.time() > 1577836800, true)
  check("os.date default is string", type(os.date()), "string")
  check("invalid conversion errors", pcall(os.date, "%Ez"), false)
  local c1 = os.clock()
  check("os.clock number", type(c1), "number")
  local x = 0
  for i = 1, 200000 do x = x + i end
  local c2 = os.clock()
  check("os.clock does not decrease", c2 >= c1, true)
  check("format os.clock", string.format("%5.1f", os.clock()):match("^%s*%d+%.%d$") ~= nil, true)
end

-- collectgarbage
do
  local kb = collectgarbage("count")
  check("count is number", type(kb), "number")
  check("count positive", kb > 0, true)
  check("collect returns 0", collectgarbage("collect"), 0)
  check("default option is collect", collectgarbage(), 0)
  check("isrunning", collectgarbage("isrunning"), true)
  local big = {}
  for i = 1, 10000 do big[i] = {i} end
  local before = collectgarbage("count")
  big = nil
  collectgarbage()
  check("memory released", collectgarbage("count") < before, true)
  check("step returns boolean", type(collectgarbage("step", 0)), "boolean")
  check("invalid option errors", pcall(collectgarbage, "bogus"), false)
end

-- misc base functions
do
  check("next on empty", next({}), nil)
  check("getmetatable string", type(getmetatable("")), "table")
  check("string coercion in concat", 10 .. 20, "1020")
  local t = setmetatable({}, {__index = table})
  t:insert("a")
  check("table methods via __index", t[1], "a")
  check("dofile exists or not", dofile == nil or type(dofile) == "function", true)
  check("require type", require == nil or type(require) == "function", true)
  check("string.format with tostring", ("%s"):format(nil), "nil")
  check("print exists", type(print), "function")
end

print(string.format("ok stdlib_misc %d checks", N))
