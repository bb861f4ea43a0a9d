-- The sandbox loads text chunks only: each way to load a binary chunk fails
-- as native Lua's load(s, nil, "t") does, whatever mode the script passes,
-- and no function reachable from the loaders' upvalues loads one either.
-- Native Lua accepts binary chunks, so this runs in the sandbox only; the
-- test compares each message with native lua5.4's.
-- Usage: binary_refused.lua FOLDER (a writable folder)
local dir = assert(arg[1], "usage: binary_refused.lua FOLDER")
local bin = string.dump(function() return 42 end)
local function write(name, text)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(text)
  f:close()
  return dir .. "/" .. name
end
local path = write("bin.lua", bin)
local shebang = write("binsh.lua", "#!/usr/bin/lua\n" .. bin)
write("binmod.lua", bin)

local function show(label, ok, a, b)
  -- a loader returns fail plus a message; dofile and require raise
  local message = ok and b or a
  if ok and type(a) == "function" then message = "LOADED, returns " .. tostring(a()) end
  print(label .. ": " .. tostring(message):gsub(".*\n\t", ""))
end

show("load", pcall(load, bin))
show("load b", pcall(load, bin, "=bin", "b"))
show("load bt", pcall(load, bin, "=bin", "bt"))
show("load t", pcall(load, bin, "=bin", "t"))
local sent = false
show("load reader b", pcall(load, function() if sent then return nil end sent = true return bin end, "=r", "b"))
show("loadfile", pcall(loadfile, path))
show("loadfile b", pcall(loadfile, path, "b"))
show("loadfile bt", pcall(loadfile, path, "bt"))
show("loadfile shebang b", pcall(loadfile, shebang, "b"))
show("dofile", pcall(dofile, path))
package.path = dir .. "/?.lua"
show("require", pcall(require, "binmod"))

-- Dig out every function reachable through upvalues from the loaders (as
-- test_wasi_wall_holds_when_the_lua_checks_are_bypassed digs out io.open)
-- and try each as a loader.
local seen, found = {}, {}
local function dig(f)
  if type(f) ~= "function" or seen[f] then return end
  seen[f] = true
  found[#found + 1] = f
  for i = 1, 255 do
    local name, value = debug.getupvalue(f, i)
    if name == nil then break end
    dig(value)
  end
end
for _, f in ipairs({load, loadfile, dofile, require, package.searchpath, package.loadlib}) do dig(f) end
for _, f in ipairs(package.searchers) do dig(f) end

local tried, loaded = 0, 0
local function returns_42(ok, ...)
  if not ok then return false end
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "function" and v ~= load and v ~= loadfile and v ~= dofile and v ~= require then
      local ok2, r = pcall(v, "binmod", path)
      if ok2 and r == 42 then return true end
    end
  end
  return false
end
for _, f in ipairs(found) do
  for _, args in ipairs({{bin}, {bin, "=b", "b"}, {path}, {path, "b"}, {"binmod"}}) do
    tried = tried + 1
    if returns_42(pcall(f, table.unpack(args))) then loaded = loaded + 1 end
  end
end
print(string.format("dug: %d functions, %d tries, %d loaded binary", #found, tried, loaded))
