-- Reads one line and answers "got <line> <error>".
local port = assert(tonumber(Rumble.readConfig("idleport")), "IdlePort missing")

Rumble.createService(function(session)
  local line, _, err = session:receive()
  session:send("got ", line, " ", tostring(err), "\r\n")
end, port, 8)
