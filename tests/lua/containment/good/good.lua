-- A plugin in a folder of its own (plugins/good/good.lua): it reads a file
-- beside it and requires a module beside it, at load time and per session.
local port = assert(tonumber(Rumble.readConfig("goodport")), "GoodPort missing")
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local helper = require("helper")

Rumble.createService(function(session)
  local f = assert(io.open(dir .. "/beside.txt", "r"))
  local text = f:read("l")
  f:close()
  local again = dofile(dir .. "/helper.lua")
  session:send(helper.greeting(), " ", again.greeting(), " ", text, "\r\n")
end, port, 2)
