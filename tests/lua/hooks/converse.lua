-- session:receive, receivebytes and lock in hooks: commands of the
-- script's own on SMTP, POP3 and IMAP (lines no protocol knows reach hooks
-- as "unknown", with the whole line in cmd.args), the service-wide lock
-- held across a read, the per-call read limit, and a close hook, which has
-- no client to read from.
local function smtp(session, cmd)
  local word = cmd.args:match("^(%S+)")
  if word == "XCHAL" then
    session:send("334 go on\r\n")
    local line, n = session:receive()
    session:send("250 got [" .. line .. "] " .. n .. "\r\n")
    return "ignore"
  elseif word == "XBYTES" then
    session:send("334 five bytes\r\n")
    local data = ""
    while #data < 5 do
      local chunk, n, why = session:receivebytes(5 - #data)
      if n < 0 then return 451, "receivebytes: " .. why end
      data = data .. chunk
    end
    return 250, "bytes [" .. data .. "]"
  elseif word == "XLOCK" then
    local ok, why = session:lock()
    if not ok then return 451, "lock " .. why end
    session:send("334 locked\r\n")
    session:receive()
    return 250, "released"
  elseif word == "XFLOOD" then
    session:send("334 flood me\r\n")
    local count = 0
    while true do
      local line, n, why = session:receive()
      if why then return 250, "stopped: " .. why .. " after " .. count end
      count = count + 1
    end
  end
end
Rumble.setHook(smtp, "smtp", "command", "unknown")

Rumble.setHook(function(session, cmd)
  session:send("+OK go on\r\n")
  local line = session:receive()
  session:send("+OK got [" .. line .. "] for [" .. cmd.args .. "]\r\n")
  return "ignore"
end, "pop3", "command", "unknown")

Rumble.setHook(function(session, cmd)
  session:send("+ go on\r\n")
  local line = session:receive()
  session:send(cmd.tag .. " OK got [" .. line .. "] for [" .. cmd.args .. "]\r\n")
  return "ignore"
end, "imap4", "command", "unknown")

Rumble.setHook(function(session)
  local line, n, why = session:receive()
  kv.set("close", tostring(why) .. " " .. n)
end, "smtp", "close")

Rumble.createService(function(session)
  session:send((kv.get("close") or "none") .. "\r\n")
end, tonumber(Rumble.readConfig("converseport")), 2)
