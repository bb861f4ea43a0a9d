-- Answers Rumble.serverInfo().path.
local port = assert(tonumber(Rumble.readConfig("infoport")), "InfoPort missing")

Rumble.createService(function(session)
  session:send("path ", Rumble.serverInfo().path, "\r\n")
end, port, 2)
