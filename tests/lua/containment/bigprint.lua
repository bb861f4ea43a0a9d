-- Logs one huge line per connection: "print N", "write N" (io.write) or
-- "dprint N" (Rumble.dprint): N bytes of "P", "W" or "D" respectively.
local port = assert(tonumber(Rumble.readConfig("bigprintport")), "BigPrintPort missing")

Rumble.createService(function(session)
  local how, n = session:receive():match("^(%a+) (%d+)$")
  n = assert(tonumber(n), "expected: print|write|dprint N")
  local text = (how:sub(1, 1):upper()):rep(n)
  if how == "print" then
    print(text)
  elseif how == "write" then
    io.write(text, "\n")
    io.stdout:flush()
  elseif how == "dprint" then
    Rumble.dprint(text)
  end
  text = nil
  session:send("logged ", how, " ", n, "\r\n")
end, port, 4)
