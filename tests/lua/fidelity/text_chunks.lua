-- Fidelity: source text loads through every path the sandbox replaces
-- (load from a string or a reader, loadfile, dofile, require) as in native
-- Lua, messages included; mode "b" refuses text and mode "t" binary.
-- Usage: text_chunks.lua FOLDER (a writable folder)
local N = 0
local function check(name, got, expected)
  N = N + 1
  if got ~= expected then
    error(string.format("%s: expected %q, got %q", name, tostring(expected), tostring(got)), 2)
  end
end
local function has(name, text, part)
  check(name, type(text) == "string" and text:find(part, 1, true) ~= nil, true)
end

local dir = assert(arg[1], "usage: text_chunks.lua FOLDER")
local function write(name, text)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(text)
  f:close()
  return dir .. "/" .. name
end

-- load from a string
check("load string", load("return 1 + 1")(), 2)
check("load mode t", load("return 1", "=m", "t")(), 1)
check("load mode bt", load("return 1", "=m", "bt")(), 1)
check("syntax error", select(2, load("return 1 +", "=bad")), "bad:1: unexpected symbol near <eof>")
check("mode b refuses text", select(2, load("return 1", "=m", "b")), "attempt to load a text chunk (mode is 'b')")
check("mode b before syntax", select(2, load("return +", "=m", "b")), "attempt to load a text chunk (mode is 'b')")
check("empty mode", select(2, load("return 1", "=m", "")), "attempt to load a text chunk (mode is '')")
check("load fail value", load("return 1", "=m", "b"), nil)
check("default chunk name", select(2, pcall(load("error('boom')"))), [[[string "error('boom')"]:1: boom]])
check("number chunk", select(2, load(42)), [[[string "42"]:1: unexpected symbol near '42']])
check("env", load("return x", "=e", "t", {x = 7})(), 7)
check("nil env", select(2, pcall(load("return x", "=e", "t", nil))), "e:1: attempt to index a nil value (upvalue '_ENV')")
check("env without upvalue", load("return 5", "=e", "t", {})(), 5)
check("varargs", load("local a, b = ... return a * b")(6, 7), 42)
check("bad mode type", pcall(load, "return 1", "=m", {}), false)
check("bad chunk type", pcall(load, {}), false)

-- load from a reader function
local parts, i = {"return ", "1 ", "+ ", "2"}, 0
check("reader", load(function() i = i + 1 return parts[i] end)(), 3)
local once = false
check("empty piece ends", load(function() if once then return "error('more')" end once = true return "" end)(), nil)
-- (errors raised while parsing pass the caller's message handler, which may
-- add a traceback: lua.c's and mlua's both do, differently)
has("reader non-string", select(2, load(function() return {} end)), "reader function must return a string")
check("reader error", select(2, load(function() error("rd", 0) end)):sub(1, 2), "rd")
check("reader chunk name", select(2, load(coroutine.wrap(function() coroutine.yield("return 1 +") end))), "(load):1: unexpected symbol near <eof>")
check("reader mode b", select(2, load(coroutine.wrap(function() coroutine.yield("return 1") end), "=r", "b")), "attempt to load a text chunk (mode is 'b')")
check("reader env", load(coroutine.wrap(function() coroutine.yield("return y") end), "=r", "t", {y = 9})(), 9)

-- binary refused under mode t
local bin = string.dump(function() return 42 end)
check("mode t refuses binary", select(2, load(bin, "=bin", "t")), "attempt to load a binary chunk (mode is 't')")
local sent = false
check("reader mode t refuses binary",
  select(2, load(function() if sent then return nil end sent = true return bin end, "=r", "t")),
  "attempt to load a binary chunk (mode is 't')")

-- loadfile
local p = write("m.lua", "#!/usr/bin/env lua\nlocal a = ...\nreturn (a or 0) + 1, debug.getinfo(1, 'l').currentline\n")
local f = assert(loadfile(p))
local v, line = f(41)
check("loadfile", v, 42)
check("shebang keeps line numbers", line, 3)
check("loadfile bom", loadfile(write("bom.lua", "\239\187\191return 'bom'"))(), "bom")
check("loadfile bom and shebang", loadfile(write("bomsh.lua", "\239\187\191#!x\nreturn 2"))(), 2)
check("loadfile empty", loadfile(write("empty.lua", ""))(), nil)
check("loadfile mode t", loadfile(p, "t")(), 1)
check("loadfile env", loadfile(write("env.lua", "return z"), "t", {z = 3})(), 3)
check("loadfile mode b", select(2, loadfile(p, "b")), "attempt to load a text chunk (mode is 'b')")
local bad = write("bad.lua", "x = = 1")
local nf, err = loadfile(bad)
check("loadfile syntax error", nf, nil)
has("loadfile syntax message", err, ":1: unexpected symbol near '='")
local nf2, err2 = loadfile(dir .. "/nope.lua")
check("loadfile missing", nf2, nil)
check("loadfile missing message", err2, "cannot open " .. dir .. "/nope.lua: No such file or directory")
local binfile = write("bin.lua", bin)
check("loadfile mode t refuses binary", select(2, loadfile(binfile, "t")), "attempt to load a binary chunk (mode is 't')")
check("loadfile mode t refuses binary after #", select(2, loadfile(write("binsh.lua", "#!x\n" .. bin), "t")),
  "attempt to load a binary chunk (mode is 't')")

-- dofile
check("dofile", dofile(p), 1)
check("dofile many results", select("#", dofile(write("many.lua", "return 1, 2, 3"))), 3)
local ok, derr = pcall(dofile, bad)
check("dofile syntax error", ok, false)
has("dofile syntax message", derr, ":1: unexpected symbol near '='")
check("dofile missing", select(2, pcall(dofile, dir .. "/nope.lua")), "cannot open " .. dir .. "/nope.lua: No such file or directory")
local ok2, rerr = pcall(dofile, write("raise.lua", "error('inside', 0)"))
check("dofile error inside", rerr, "inside")

-- require
local saved_path = package.path
package.path = dir .. "/?.lua"
write("tmod.lua", "return {name = ..., file = select(2, ...)}")
local m = require("tmod")
check("require name", m.name, "tmod")
check("require file", m.file, dir .. "/tmod.lua")
check("require caches", package.loaded.tmod, m)
local ok3, merr = pcall(require, "nomod")
check("require missing", ok3, false)
has("require missing message", merr, "module 'nomod' not found:")
has("require missing lists the file", merr, "no file '" .. dir .. "/nomod.lua'")
write("badmod.lua", "x = = 1")
local ok4, berr = pcall(require, "badmod")
check("require syntax error", ok4, false)
has("require syntax message", berr, "error loading module 'badmod' from file '" .. dir .. "/badmod.lua':\n\t")
package.path = {}
local ok5, perr = pcall(require, "zz")
check("package.path must be a string", ok5, false)
has("package.path message", perr, "'package.path' must be a string")
package.path = saved_path

print(string.format("ok text_chunks %d checks", N))
