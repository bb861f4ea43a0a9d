-- Benchmark (bench/isolation.py, fresh state per connection): a trivial
-- service that reads one line, answers "ok <line>" and ends the session.
-- bench/isolation.py loads copies of this file under other names; the port
-- comes from the config key "<file stem>port" (e.g. ReplyFreshPort).
local name = debug.getinfo(1, "S").source:match("([^/\\]+)%.lua$")
local port = assert(tonumber(Rumble.readConfig(name .. "port")), name .. "port missing")

local function serve(session)
  local line, _, err = session:receive()
  if err then return end
  session:send("ok ", line, "\r\n")
end

Rumble.createService(serve, port, 8)
