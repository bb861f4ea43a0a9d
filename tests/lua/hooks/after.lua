-- After hooks: a brute-force guard on AUTH, a late refusal of a recipient,
-- and a log of every verb kept in the session's values.
Rumble.setHook(function(session, cmd)
  if cmd.code >= 500 then
    local fails = (session:get("fails") or 0) + 1
    session:set("fails", fails)
    if fails >= 2 then return false end
  end
end, "smtp", "after", "auth")

Rumble.setHook(function(session, cmd)
  if session.sender == "afterdeny@example.net" and cmd.address == "bob@hooks.test" and cmd.code == 250 then
    return 550, "5.7.1 bob refused after " .. cmd.code
  end
end, "smtp", "after", "rcpt")

Rumble.setHook(function(session, cmd)
  session:set("verbs", (session:get("verbs") or "") .. cmd.verb .. ":" .. cmd.code .. " ")
end, "smtp", "after", "*")

Rumble.setHook(function(session, cmd)
  return 250, "2.0.0 verbs " .. (session:get("verbs") or "")
end, "smtp", "command", "noop")
