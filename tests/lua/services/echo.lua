-- A well-behaved line echo service: "echo <line>" for every line.
local port = assert(tonumber(Rumble.readConfig("echoport")), "EchoPort missing")

local function serve(session)
  while true do
    local line, _, err = session:receive()
    if err then return end
    session:send("echo ", line, "\r\n")
  end
end

Rumble.createService(serve, port, 8)
