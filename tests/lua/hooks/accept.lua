-- Rumble's blacklist shape: refuse one client address at accept.
Rumble.setHook(function(session)
  if session.address == "127.0.0.2" then
    session:send("554 5.7.1 You're blacklisted!\r\n")
    return "failure"
  end
  if session.address == "127.0.0.3" then
    session:send("220 hooks.test ESMTP greeted by a script\r\n")
    return "ignore"
  end
end, "smtp", "accept")

Rumble.setHook(function(session)
  print("closed " .. session.address .. " " .. tostring(session:get("fails")))
end, "smtp", "close")
