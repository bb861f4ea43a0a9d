-- A RCPT command hook whose answer depends on the recipient's local part.
local function guard(session, cmd)
  local a = cmd.address or ""
  if a:match("^reject%-") then return 550, "5.7.1 no thanks " .. a end
  if a:match("^bare%-") then return 550 end
  if a:match("^temp%-") then return 451, "4.7.1 later" end
  if a:match("^close%-") then return false end
  if a:match("^ignore%-") then
    session:send("250 2.1.5 said by the script\r\n")
    return "ignore"
  end
  if a:match("^facts%-") then
    return 550, string.format("facts %s %s %s %s %d %s %s", session.service, session.address,
      tostring(session.helo), session.sender, #session.recipients, cmd.params.NOTIFY or "-", cmd.verb)
  end
  return "okay"
end
assert(Rumble.setHook(guard, "smtp", "command", "rcpt"))

-- Lines that do not parse reach hooks as the verb "unknown".
Rumble.setHook(function(session, cmd)
  return 502, "5.5.1 hook saw " .. cmd.verb .. " [" .. cmd.args .. "]"
end, "smtp", "command", "unknown")
