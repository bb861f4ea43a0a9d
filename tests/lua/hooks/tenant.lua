-- Loaded twice, as two tenants' script (Grant <name> tenant DOMAIN): it
-- logs what its hooks see, which must be only its own domain's recipients.
Rumble.setHook(function(session, cmd)
  print("rcpt " .. cmd.address .. " seen=" .. table.concat(session.recipients, ","))
end, "smtp", "command", "rcpt")

Rumble.setHook(function(session, msg)
  local added = pcall(msg.addHeader, msg, "X-Tenant", "checked")
  print("message to " .. table.concat(session.recipients, ",") .. " add=" .. tostring(added))
  -- A tenant's refusal covers its own recipients only.
  local mine = session.recipients[1]:match("@(.*)$")
  local subject = msg:header("Subject") or ""
  if subject == "refuse " .. mine or subject == "refuse all" then return 550, "5.7.1 " .. mine .. " refuses this" end
  if subject == "defer " .. mine then return 451, "4.7.1 " .. mine .. " wants it later" end
end, "smtp", "message")

Rumble.setHook(function(session, cmd)
  print("imap " .. cmd.verb .. " by " .. session.user)
end, "imap4", "command", "select")

for _, point in ipairs({ {"smtp", "accept"}, {"smtp", "command", "mail"}, {"smtp", "after", "*"}, {"imap4", "after", "login"} }) do
  local ok, err = pcall(Rumble.setHook, function() end, table.unpack(point))
  print("refused " .. table.concat(point, " ") .. ": " .. tostring(not ok) .. " " .. tostring(err))
end
