-- status: a tiny line service on port 2580 that says who and how long the
-- server has been up. An example of a script-created service and of grants:
-- it needs "listen 2580" and "config.read servername" (see rumble.conf.example).
--
--   $ printf 'STATUS\r\nQUIT\r\n' | nc 127.0.0.1 2580

local function serve(session)
  local name = Rumble.readConfig("servername") or "rumble"
  session:send("+OK ", name, " status service ready\r\n")
  while true do
    local line, _, err = session:receive()
    if err then return end
    local verb = line:upper()
    if verb == "STATUS" then
      local info = Rumble.serverInfo()
      session:send(string.format("+OK rumble %s up %ds on %s\r\n", info.version, info.uptime, info.os))
    elseif verb == "QUIT" then
      session:send("+OK bye\r\n")
      return
    else
      session:send("-ERR unknown command\r\n")
    end
  end
end

if Rumble.createService(serve, 2580, 10) then
  print("status service on port 2580")
end
