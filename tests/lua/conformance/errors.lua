-- Conformance: errors, pcall/xpcall, error messages
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function matches(name, s, pat)
  N = N + 1
  if type(s) ~= "string" or not s:match(pat) then
    error(string.format("%s: %q does not match %q", name, tostring(s), pat), 2)
  end
end

-- error with a string: position prefix
do
  local ok, err = pcall(function() error("msg") end)
  check("pcall false", ok, false)
  matches("level 1 position prefix", err, ":%d+: msg$")
  local ok0, err0 = pcall(function() error("plain", 0) end)
  check("level 0 no position", err0, "plain")
  local function thrower() error("from caller", 2) end
  local line
  local _, err2 = pcall(function()
    line = debug and debug.getinfo(1, "l").currentline + 1
    thrower()
  end)
  matches("level 2 position prefix", err2, ":%d+: from caller$")
  if debug then
    check("level 2 points at caller line", tonumber(err2:match(":(%d+): from caller$")), line)
  else
    N = N + 1
  end
  local ok3, err3 = pcall(error)
  check("error() with no value", ok3, false)
  check("error() value is nil", err3, nil)
  local ok4, err4 = pcall(error, "direct")   -- level 1 points to pcall (a C function): no position
  check("error called directly by pcall", err4, "direct")
end

-- error with non-string values
do
  local tbl = {code = 42}
  local ok, err = pcall(error, tbl)
  check("table error passes through", err, tbl)
  check("table error field", err.code, 42)
  local _, e2 = pcall(error, 17)
  check("number error unchanged", e2, 17)
  check("number error type", math.type(e2), "integer")
  local _, e3 = pcall(error, true)
  check("boolean error", e3, true)
  local _, e4 = pcall(function() error(setmetatable({}, {__tostring = function() return "custom" end})) end)
  check("error object with __tostring", tostring(e4), "custom")
  local _, e5 = pcall(function() error(12, 1) end)
  check("number error gets no position", e5, 12)
end

-- pcall / xpcall return values
do
  check("pcall success values", select("#", pcall(function() return 1, 2, 3 end)), 4)
  local ok, a, b = pcall(function(x, y) return x + y, x * y end, 3, 4)
  check("pcall args ok", ok, true)
  check("pcall args a", a, 7)
  check("pcall args b", b, 12)
  check("pcall non-function", pcall(42), false)
  local xok, xv = xpcall(function(x) return x * 2 end, print, 21)
  check("xpcall success", xok, true)
  check("xpcall value", xv, 42)
  local seen
  local hok, hval = xpcall(function() error({id = 1}) end, function(e) seen = e; return "handled" end)
  check("xpcall fails", hok, false)
  check("handler result returned", hval, "handled")
  check("handler got original object", seen.id, 1)
  local _, hs = xpcall(function() error("boom") end, function(e) return "H:" .. e end)
  matches("handler string", hs, "^H:.*:%d+: boom$")
  if debug then
    local _, tb = xpcall(function() error("tb") end, function(e) return debug.traceback(e, 2) end)
    matches("traceback contains message", tb, "tb")
    matches("traceback header", tb, "stack traceback:")
  else
    N = N + 2
  end
  local _, herr = xpcall(function() error("x") end, function() error("handler broke") end)
  check("error in handler gives an error value", herr ~= nil, true)
end

-- nested pcall
do
  local ok, v = pcall(function()
    local iok, ierr = pcall(error, "inner", 0)
    check("inner caught", ierr, "inner")
    error("outer", 0)
  end)
  check("outer caught", v, "outer")
  local depth = 0
  local function nest(n)
    if n == 0 then error("bottom", 0) end
    local ok2, e = pcall(nest, n - 1)
    depth = depth + 1
    error(e, 0)
  end
  local _, bottom = pcall(nest, 50)
  check("error rethrown through 50 pcalls", bottom, "bottom")
  check("all levels saw it", depth, 50)
end

-- errors inside metamethods
do
  local t = setmetatable({}, {__index = function(_, k) error("no field " .. k, 2) end})
  local ok, err = pcall(function() return t.missing end)
  check("__index error caught", ok, false)
  matches("__index error message", err, ":%d+: no field missing$")
  local a = setmetatable({}, {__add = function() error("cannot add", 0) end})
  local _, e2 = pcall(function() return a + 1 end)
  check("__add error", e2, "cannot add")
  local _, e3 = pcall(tostring, setmetatable({}, {__tostring = function() error("ts", 0) end}))
  check("__tostring error", e3, "ts")
end

-- assert
do
  local tbl = {}
  local ok, err = pcall(assert, false, tbl)
  check("assert passes table through", err, tbl)
  local _, e2 = pcall(assert, nil, "custom message")
  check("assert message unchanged", e2, "custom message")
  local _, e3 = pcall(assert, false)
  check("assert default message", e3, "assertion failed!")
  check("assert returns all args", select("#", assert(1, 2, 3)), 3)
  check("assert returns value", (assert("v")), "v")
  local _, e4 = pcall(assert, nil, 99)
  check("assert numeric message", e4, 99)
end

-- runtime error messages name the culprit
do
  local _, e1 = pcall(function() local t = nil; return t.x end)
  matches("index nil local", e1, "attempt to index a nil value %(local 't'%)")
  local _, e2 = pcall(function() return undefinedglobal.x end)
  matches("index nil global", e2, "attempt to index a nil value %(global 'undefinedglobal'%)")
  local _, e3 = pcall(function() local t = {} return t.a.b end)
  matches("index nil field", e3, "attempt to index a nil value %(field 'a'%)")
  local _, e4 = pcall(function() local f; f() end)
  matches("call nil local", e4, "attempt to call a nil value %(local 'f'%)")
  local _, e5 = pcall(function() notafunction() end)
  matches("call nil global", e5, "attempt to call a nil value %(global 'notafunction'%)")
  local _, e6 = pcall(function() local t = {} t.method() end)
  matches("call nil field", e6, "attempt to call a nil value %(field 'method'%)")
  local _, e6b = pcall(function() local t = {} t:meth() end)
  matches("call nil method", e6b, "attempt to call a nil value %(method 'meth'%)")
  local _, e7 = pcall(function() local s = "abc" return s + 1 end)
  -- strings do arithmetic through the string metatable, whose error does not name the variable
  matches("arith on non-numeric string", e7, "attempt to add a 'string' with a 'number'$")
  local _, e7b = pcall(function() local b = true return b * 2 end)
  matches("arith on boolean names local", e7b, "attempt to perform arithmetic on a boolean value %(local 'b'%)")
  local _, e8 = pcall(function() local t = {} return t + 1 end)
  matches("arith on table", e8, "attempt to perform arithmetic on a table value %(local 't'%)")
  local _, e9 = pcall(function() local a = {} return #nil end)
  matches("length of nil", e9, "attempt to get length of a nil value")
  local _, e10 = pcall(function() local t = {} return t .. "x" end)
  matches("concat table", e10, "attempt to concatenate a table value %(local 't'%)")
  local _, e11 = pcall(function() return {} < 1 end)
  matches("compare", e11, "attempt to compare table with number")
  local _, e12 = pcall(function() local up = nil; return (function() return up.x end)() end)
  matches("index nil upvalue", e12, "attempt to index a nil value %(upvalue 'up'%)")
  local _, e13 = pcall(string.rep)
  matches("bad argument message", e13, "bad argument #1 to '.-rep' %(string expected, got no value%)")
  local _, e14 = pcall(("x").rep, "x", "y")
  matches("bad argument number expected", e14, "number expected, got string")
  matches("runtime errors have position", e1, "^.-:%d+: ")
end

-- error values survive coroutine boundaries and string conversion
do
  local co = coroutine.create(function() error({tag = "co"}) end)
  local _, e = coroutine.resume(co)
  check("error table through coroutine", e.tag, "co")
  local ok, err = pcall(function() local x <close> = setmetatable({}, {__close = function() end}); error("with tbc", 0) end)
  check("error through to-be-closed", err, "with tbc")
  local _, e2 = pcall(function() local x <close> = setmetatable({}, {__close = function() error("in close", 0) end}); error("orig", 0) end)
  check("error in __close replaces original", e2, "in close")
end

-- stack overflow is a catchable error
do
  local function inf(n) return 1 + inf(n + 1) end
  local ok, err = pcall(inf, 1)
  check("stack overflow caught", ok, false)
  -- a sandbox with a small memory limit may run out of memory first; both are catchable
  N = N + 1
  local msg = tostring(err)
  assert(msg:find("stack overflow", 1, true) or msg:find("not enough memory", 1, true),
    "stack overflow message: got " .. msg)
  check("still working after overflow", pcall(function() return 1 end), true)
end

print(string.format("ok errors %d checks", N))
