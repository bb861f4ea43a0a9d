-- Conformance: coroutines
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end

-- create / resume / yield / status, passing values both ways
do
  local co = coroutine.create(function(a, b)
    check("first resume args", a + b, 3)
    local c = coroutine.yield(a + b)
    check("value passed into yield", c, "x")
    local d, e = coroutine.yield(c .. "y")
    return d * e, "done"
  end)
  check("type thread", type(co), "thread")
  check("status suspended initially", coroutine.status(co), "suspended")
  local ok, v = coroutine.resume(co, 1, 2)
  check("resume ok", ok, true)
  check("yielded value", v, 3)
  check("status after yield", coroutine.status(co), "suspended")
  ok, v = coroutine.resume(co, "x")
  check("second yield", v, "xy")
  local ok3, r1, r2 = coroutine.resume(co, 6, 7)
  check("return ok", ok3, true)
  check("return value 1", r1, 42)
  check("return value 2", r2, "done")
  check("status dead", coroutine.status(co), "dead")
  local ok4, err = coroutine.resume(co)
  check("resume dead fails", ok4, false)
  check("resume dead message", err, "cannot resume dead coroutine")
end

-- yield with multiple/no values
do
  local co = coroutine.create(function() coroutine.yield(); coroutine.yield(1, nil, 3) end)
  check("yield nothing count", select("#", coroutine.resume(co)), 1)
  check("yield three values count", select("#", coroutine.resume(co)), 4)
end

-- status "running" and "normal", running, isyieldable
do
  local main, ismain = coroutine.running()
  check("running in main returns thread", type(main), "thread")
  check("running ismain is boolean", type(ismain), "boolean")
  -- the top level normally runs on the main thread (not yieldable there)
  check("main thread not yieldable", coroutine.isyieldable(), not ismain)
  local outer
  local inner = coroutine.create(function()
    check("outer is normal while inner runs", coroutine.status(outer), "normal")
    return "inner"
  end)
  outer = coroutine.create(function()
    check("self status running", coroutine.status(outer), "running")
    local co, im = coroutine.running()
    check("running returns self", co, outer)
    check("running not main", im, false)
    check("yieldable inside", coroutine.isyieldable(), true)
    return select(2, coroutine.resume(inner))
  end)
  local ok, v = coroutine.resume(outer)
  check("nested resume", v, "inner")
  local ok2, err = coroutine.resume(coroutine.running())
  check("resume running coroutine fails", ok2, false)
  check("resume non-suspended msg", err:find("cannot resume non%-suspended coroutine") ~= nil, true)
end

-- wrap and generators
do
  local function range(n)
    return coroutine.wrap(function() for i = 1, n do coroutine.yield(i) end end)
  end
  local sum = 0
  for i in range(10) do sum = sum + i end
  check("generator sum", sum, 55)
  local function permgen(a, n)
    n = n or #a
    if n <= 1 then coroutine.yield(table.concat(a)) else
      for i = 1, n do
        a[n], a[i] = a[i], a[n]
        permgen(a, n - 1)
        a[n], a[i] = a[i], a[n]
      end
    end
  end
  local perms = {}
  for p in coroutine.wrap(function() permgen({"a", "b", "c"}) end) do perms[#perms + 1] = p end
  table.sort(perms)
  check("permutations", table.concat(perms, ","), "abc,acb,bac,bca,cab,cba")
  local gen = coroutine.wrap(function() coroutine.yield(1) end)
  gen(); gen()
  local ok, err = pcall(gen)
  check("wrap dead errors", ok, false)
  check("wrap dead message", tostring(err):find("dead coroutine", 1, true) ~= nil, true)
  local w = coroutine.wrap(function() error("inside wrap") end)
  local ok2, err2 = pcall(w)
  check("wrap propagates error", ok2, false)
  check("wrap error message", tostring(err2):find("inside wrap", 1, true) ~= nil, true)
  -- producer / consumer
  local producer = coroutine.create(function()
    for _, item in ipairs({"a", "b", "c"}) do coroutine.yield(item) end
  end)
  local got = {}
  while true do
    local _, item = coroutine.resume(producer)
    if item == nil then break end
    got[#got + 1] = item
  end
  check("producer/consumer", table.concat(got), "abc")
end

-- errors inside coroutines
do
  local co = coroutine.create(function() local x = nil; return x.field end)
  local ok, err = coroutine.resume(co)
  check("error caught by resume", ok, false)
  check("error message", tostring(err):find("attempt to index a nil value", 1, true) ~= nil, true)
  check("dead after error", coroutine.status(co), "dead")
  local co2 = coroutine.create(function() error({code = 7}) end)
  local _, e2 = coroutine.resume(co2)
  check("error object table", e2.code, 7)
  local ok3 = coroutine.resume(coroutine.create(function() coroutine.yield() end))
  check("resume ok after yield", ok3, true)
  check("yield outside coroutine errors", pcall(coroutine.yield, 1), false)
  check("resume non-thread errors", pcall(coroutine.resume, 5), false)
end

-- yield across pcall (allowed in 5.4)
do
  local co = coroutine.create(function()
    local ok, v = pcall(function()
      local got = coroutine.yield("from inside pcall")
      error("after " .. got, 0)
    end)
    coroutine.yield(tostring(ok) .. ":" .. v)
    return "end"
  end)
  local _, a = coroutine.resume(co)
  check("yield inside pcall", a, "from inside pcall")
  local _, b = coroutine.resume(co, "resume")
  check("error after resume caught by pcall", b, "false:after resume")
  local _, c = coroutine.resume(co)
  check("coroutine continues", c, "end")
  -- yield across metamethod and iterator
  local t = setmetatable({}, {__index = function(_, k) return coroutine.yield(k) end})
  local co2 = coroutine.wrap(function() return "got " .. t.foo end)
  check("yield in __index", co2(), "foo")
  check("resume value through __index", co2("bar"), "got bar")
  -- yield inside table.sort comparator is NOT allowed (C function without continuation)
  local co3 = coroutine.create(function() table.sort({3, 2, 1}, function(a, b) coroutine.yield() return a < b end) end)
  local ok3, err3 = coroutine.resume(co3)
  check("yield across C boundary fails", ok3, false)
  check("yield across C boundary msg", tostring(err3):find("attempt to yield across a C%-call boundary") ~= nil, true)
end

-- coroutine.close
do
  local co = coroutine.create(function() coroutine.yield() end)
  coroutine.resume(co)
  check("close suspended", coroutine.close(co), true)
  check("closed is dead", coroutine.status(co), "dead")
  local log = {}
  local co2 = coroutine.create(function()
    local res <close> = setmetatable({}, {__close = function(_, err) log[#log + 1] = "closed:" .. tostring(err) end})
    coroutine.yield("holding")
    log[#log + 1] = "never"
  end)
  local _, v = coroutine.resume(co2)
  check("holding resource", v, "holding")
  check("close pending tbc ok", coroutine.close(co2), true)
  check("pending tbc closed", table.concat(log, ","), "closed:nil")
  local co3 = coroutine.create(function()
    local res <close> = setmetatable({}, {__close = function() error("close failed", 0) end})
    coroutine.yield()
  end)
  coroutine.resume(co3)
  local okc, errc = coroutine.close(co3)
  check("close with erroring __close", okc, false)
  check("close error value", errc, "close failed")
  local co4 = coroutine.create(function() error("oops", 0) end)
  coroutine.resume(co4)
  local ok4, err4 = coroutine.close(co4)
  check("close dead-by-error returns false", ok4, false)
  check("close dead-by-error returns error", err4, "oops")
  check("close fresh coroutine", coroutine.close(coroutine.create(print)), true)
  check("close running fails", pcall(coroutine.close, coroutine.running()), false)
end

-- many coroutines
do
  local cos = {}
  for i = 1, 1000 do
    cos[i] = coroutine.wrap(function(x) local y = coroutine.yield(x + i) return y * 2 end)
  end
  local s = 0
  for i = 1, 1000 do s = s + cos[i](0) end
  for i = 1, 1000 do s = s + cos[i](1) end
  check("1000 coroutines", s, 500500 + 2000)
end

print(string.format("ok coroutines %d checks", N))
