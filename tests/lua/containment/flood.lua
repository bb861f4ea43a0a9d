-- Log flood: prints the number of lines the client asks for, then answers.
local port = assert(tonumber(Rumble.readConfig("floodport")), "FloodPort missing")

Rumble.createService(function(session)
  local n = assert(math.tointeger(tonumber((session:receive()))), "expected a number of lines")
  for i = 1, n do
    print("flood line " .. i)
  end
  session:send("flooded ", n, "\r\n")
end, port, 8)
