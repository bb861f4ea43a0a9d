-- Conformance: metatables and metamethods, <close> and <const>
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function fails(name, f, ...)
  N = N + 1
  local ok, err = pcall(f, ...)
  if ok then error(name .. ": expected an error", 2) end
  return tostring(err)
end

-- __index with a table and a function
do
  local base = {greet = function() return "hi" end, x = 1}
  local obj = setmetatable({}, {__index = base})
  check("__index table", obj.x, 1)
  check("__index method", obj.greet(), "hi")
  obj.x = 5
  check("own field shadows", obj.x, 5)
  check("base untouched", base.x, 1)
  local calls = 0
  local f = setmetatable({}, {__index = function(t, k) calls = calls + 1; return k .. "!" end})
  check("__index function", f.abc, "abc!")
  check("__index function called", calls, 1)
  check("__index not called for existing", (function() rawset(f, "z", 0); return f.z end)(), 0)
  check("__index not called count", calls, 1)
  -- chains
  local a = {v = "a"}
  local b = setmetatable({}, {__index = a})
  local c = setmetatable({}, {__index = b})
  check("__index chain", c.v, "a")
  -- __index on a non-table via debug-free path: strings
  check("string __index", ("x").len, string.len)
end

-- __newindex
do
  local log = {}
  local t = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k; rawset(t, k, v * 2) end})
  t.a = 1
  check("__newindex called", log[1], "a")
  check("__newindex rawset", t.a, 2)
  t.a = 10
  check("__newindex not called for existing", #log, 1)
  check("existing assigned directly", t.a, 10)
  local store = {}
  local p = setmetatable({}, {__newindex = store})
  p.k = "v"
  check("__newindex table target", store.k, "v")
  check("__newindex table proxy empty", rawget(p, "k"), nil)
  local ro = setmetatable({}, {__newindex = function() error("read-only table", 2) end})
  check("read-only error", fails("read-only", function() ro.x = 1 end):match("read%-only table") ~= nil, true)
end

-- __call
do
  local callable = setmetatable({}, {__call = function(self, a, b) return a + b, self end})
  local r, s = callable(2, 3)
  check("__call result", r, 5)
  check("__call self", s, callable)
  check("__call via pcall", select(2, pcall(callable, 1, 1)), 2)
end

-- __tostring / __name
do
  local v = setmetatable({}, {__tostring = function() return "Vec" end})
  check("__tostring", tostring(v), "Vec")
  check("__tostring in print-like concat", "<" .. tostring(v) .. ">", "<Vec>")
  local named = setmetatable({}, {__name = "MyType"})
  check("__name used by tostring", tostring(named):match("^MyType: ") ~= nil, true)
  fails("__tostring must return string", tostring, setmetatable({}, {__tostring = function() return {} end}))
end

-- comparison metamethods
do
  local mt = {}
  mt.__eq = function(a, b) return a.v == b.v end
  mt.__lt = function(a, b) return a.v < b.v end
  mt.__le = function(a, b) return a.v <= b.v end
  local function V(x) return setmetatable({v = x}, mt) end
  check("__eq", V(1) == V(1), true)
  check("__eq ne", V(1) ~= V(2), true)
  check("__eq different table not same", rawequal(V(1), V(1)), false)
  check("__lt", V(1) < V(2), true)
  check("__lt false", V(2) < V(1), false)
  check("__le", V(2) <= V(2), true)
  check("> uses __lt swapped", V(3) > V(2), true)
  check(">= uses __le swapped", V(3) >= V(4), false)
  check("__eq not called for number", V(1) == 1, false)
  fails("compare without __lt", function() return {} < {} end)
  local eqres = setmetatable({}, {__eq = function() return "yes" end})
  check("__eq result converted to boolean", eqres == setmetatable({}, getmetatable(eqres)), true)
end

-- __concat, __len, __unm
do
  local mt = {
    __concat = function(a, b)
      local av = type(a) == "table" and a.s or a
      local bv = type(b) == "table" and b.s or b
      return av .. bv
    end,
    __len = function() return 42 end,
    __unm = function(a) return -a.s end,
  }
  local o = setmetatable({s = "X"}, mt)
  check("__concat right", o .. "y", "Xy")
  check("__concat left", "y" .. o, "yX")
  check("__concat number", 1 .. o, "1X")
  check("__len", #o, 42)
  check("rawlen ignores __len", rawlen(o), 0)
  check("__unm", -setmetatable({s = 5}, mt), -5)
  fails("concat table without meta", function() return {} .. "x" end)
end

-- arithmetic and bitwise metamethods
do
  local mt = {}
  local function W(x) return setmetatable({x = x}, mt) end
  local function val(a) return type(a) == "table" and a.x or a end
  for _, op in ipairs({"add", "sub", "mul", "div", "mod", "pow", "idiv", "band", "bor", "bxor", "shl", "shr"}) do
    mt["__" .. op] = function(a, b) return op .. ":" .. tostring(val(a)) .. "," .. tostring(val(b)) end
  end
  mt.__bnot = function(a) return "bnot:" .. a.x end
  check("__add", W(1) + 2, "add:1,2")
  check("__add left operand number", 2 + W(1), "add:2,1")
  check("__sub", W(1) - W(2), "sub:1,2")
  check("__mul", W(3) * 4, "mul:3,4")
  check("__div", W(3) / 4, "div:3,4")
  check("__mod", W(3) % 4, "mod:3,4")
  check("__pow", W(3) ^ 4, "pow:3,4")
  check("__idiv", W(3) // 4, "idiv:3,4")
  check("__band", W(3) & 4, "band:3,4")
  check("__bor", W(3) | 4, "bor:3,4")
  check("__bxor", W(3) ~ 4, "bxor:3,4")
  check("__shl", W(3) << 4, "shl:3,4")
  check("__shr", W(3) >> 4, "shr:3,4")
  check("__bnot", ~W(7), "bnot:7")
  check("__band with float operand", 1.5 & W(2), "band:1.5,2")
  fails("arith on table without meta", function() return {} + 1 end)
  -- a vector type
  local vmt = {}
  vmt.__add = function(a, b) return setmetatable({a[1] + b[1], a[2] + b[2]}, vmt) end
  vmt.__eq = function(a, b) return a[1] == b[1] and a[2] == b[2] end
  local v = setmetatable({1, 2}, vmt) + setmetatable({10, 20}, vmt)
  check("vector add", v == setmetatable({11, 22}, vmt), true)
end

-- __close and to-be-closed variables
do
  local log = {}
  local function closer(name)
    return setmetatable({}, {__close = function(_, err) log[#log + 1] = name .. ":" .. tostring(err) end})
  end
  do
    local a <close> = closer("a")
    local b <close> = closer("b")
    log[#log + 1] = "body"
  end
  check("close order", table.concat(log, " "), "body b:nil a:nil")
  log = {}
  local ok, err = pcall(function()
    local c <close> = closer("c")
    error("boom", 0)
  end)
  check("close on error ok", ok, false)
  check("close on error err", err, "boom")
  check("close receives error", log[1], "c:boom")
  log = {}
  local function early()
    local d <close> = closer("d")
    for i = 1, 10 do
      local e <close> = closer("e" .. i)
      if i == 2 then return "ret" end
    end
  end
  check("close on return value", early(), "ret")
  check("close on return order", table.concat(log, " "), "e1:nil e2:nil d:nil")
  log = {}
  do
    local n <close> = nil   -- nil and false are allowed
    local f <close> = false
    log[#log + 1] = "fine"
  end
  check("close nil/false allowed", log[1], "fine")
  fails("close non-closable value", load("local x <close> = {} "))
  log = {}
  for i = 1, 2 do
    local x <close> = closer("loop" .. i)
    if i == 1 then goto continue end
    log[#log + 1] = "body2"
    ::continue::
  end
  check("close in loop with goto", table.concat(log, " "), "loop1:nil body2 loop2:nil")
end

-- <const>
do
  local K <const> = 10
  check("const value", K * 2, 20)
  local okc, errc = load("local x <const> = 1; x = 2")
  check("assign to const is compile error", okc, nil)
  check("const error message", tostring(errc):find("const", 1, true) ~= nil, true)
  local okattr = load("local x <foo> = 1")
  check("unknown attribute is compile error", okattr, nil)
end

-- raw access
do
  local t = setmetatable({}, {__index = function() return "meta" end, __newindex = function() error("no") end, __len = function() return 99 end, __eq = function() return true end})
  check("rawget bypasses __index", rawget(t, "x"), nil)
  check("normal get uses __index", t.x, "meta")
  rawset(t, "x", 1)
  check("rawset bypasses __newindex", rawget(t, "x"), 1)
  check("rawset returns table", rawset(t, "y", 2), t)
  check("rawlen", rawlen({1, 2, 3}), 3)
  check("rawlen string", rawlen("abcd"), 4)
  check("#t uses __len", #t, 99)
  local u = setmetatable({}, getmetatable(t))
  check("== uses __eq", t == u, true)
  check("rawequal ignores __eq", rawequal(t, u), false)
  check("rawequal same", rawequal(t, t), true)
  fails("rawlen on number", rawlen, 5)
end

-- metatable protection
do
  local prot = setmetatable({}, {__metatable = "locked"})
  check("getmetatable returns __metatable field", getmetatable(prot), "locked")
  check("setmetatable protected fails", fails("protected", setmetatable, prot, {}):find("protected metatable", 1, true) ~= nil, true)
  local t = setmetatable({}, {})
  check("setmetatable nil removes", getmetatable(setmetatable(t, nil)), nil)
  fails("setmetatable non-table", setmetatable, {}, 5)
  check("getmetatable of plain table", getmetatable({}), nil)
  check("getmetatable of number", getmetatable(1), nil)
end

-- classes via metatables
do
  local Account = {}
  Account.__index = Account
  function Account.new(b) return setmetatable({balance = b}, Account) end
  function Account:deposit(v) self.balance = self.balance + v; return self end
  local Savings = setmetatable({}, {__index = Account})
  Savings.__index = Savings
  function Savings.new(b) return setmetatable(Account.new(b), Savings) end
  function Savings:interest() return self.balance // 10 end
  local s = Savings.new(100):deposit(50)
  check("inheritance method", s.balance, 150)
  check("subclass method", s:interest(), 15)
end

print(string.format("ok metatables %d checks", N))
