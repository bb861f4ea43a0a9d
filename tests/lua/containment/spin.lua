-- Spinner: after one line, loops forever (stopped by its CPU budget).
-- "ping" answers "pong" instead.
local port = assert(tonumber(Rumble.readConfig("spinport")), "SpinPort missing")

Rumble.createService(function(session)
  if session:receive() == "ping" then
    session:send("pong\r\n")
    return
  end
  while true do end
end, port, 8)
