-- A service that runs the hostile script a client names (one of the files
-- beside this one) inside its handler, so tests can watch the sandbox stop
-- it while other scripts keep answering. "ping" answers "pong".
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local port = assert(tonumber(Rumble.readConfig("hostileport")), "HostilePort missing")

local function serve(session)
  local name = session:receive()
  if name == "ping" then
    session:send("pong\r\n")
    return
  end
  assert(name:match("^[%w_]+$"), "bad script name")
  session:send("running ", name, "\r\n")
  dofile(dir .. "/" .. name .. ".lua")
  session:send("finished\r\n")
end

Rumble.createService(serve, port, 4)
