-- The service-wide lock. "hold": take it and keep it until the client goes
-- away (read timeouts are ignored); "try": take it, answer, release it;
-- "ping": answer without the lock. Answers show what session:lock() returned.
local port = assert(tonumber(Rumble.readConfig("lockport")), "LockPort missing")

Rumble.createService(function(session)
  local line = session:receive()
  if line == "hold" then
    local ok, why = session:lock()
    session:send("hold ", tostring(ok), " ", tostring(why), "\r\n")
    while true do
      local _, _, err = session:receive()
      if err and err ~= "timeout" then break end
    end
  elseif line == "try" then
    local ok, why = session:lock()
    session:send("try ", tostring(ok), " ", tostring(why), "\r\n")
    if ok then session:unlock() end
  elseif line == "ping" then
    session:send("pong\r\n")
  end
end, port, 16)
