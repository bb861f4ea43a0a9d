-- Benchmark load (bench/isolation.py): a hostile service. On each
-- connection it reads one line, then spins in `while true do end` until the
-- sandbox's CPU budget (ScriptCPULimit / ScriptLimit spin cpu) stops it and
-- the connection is closed. Port from the config key SpinPort.
local port = assert(tonumber(Rumble.readConfig("spinport")), "SpinPort missing")

local function serve(session)
  local _, _, err = session:receive()
  if err then return end
  while true do end
end

Rumble.createService(serve, port, 8)
