-- Benchmark (bench/isolation.py, fresh state per connection): like
-- reply.lua, but its top level first builds a 1000-entry table, so a freshly
-- loaded instance costs more. Port from the config key "<file stem>port".
local name = debug.getinfo(1, "S").source:match("([^/\\]+)%.lua$")
local port = assert(tonumber(Rumble.readConfig(name .. "port")), name .. "port missing")

local entries = {}
for i = 1, 1000 do
  entries["key" .. i] = { index = i, label = "entry " .. i }
end

local function serve(session)
  local line, _, err = session:receive()
  if err then return end
  local e = entries["key" .. (#line % 1000 + 1)]
  session:send("ok ", line, " ", e.label, "\r\n")
end

Rumble.createService(serve, port, 8)
