-- Benchmark (bench/isolation.py): a well-behaved line echo service that
-- answers each line with the same line. Port from the config key EchoPort.
local port = assert(tonumber(Rumble.readConfig("echoport")), "EchoPort missing")

local function serve(session)
  while true do
    local line, _, err = session:receive()
    if err then return end
    session:send(line, "\r\n")
  end
end

Rumble.createService(serve, port, 8)
